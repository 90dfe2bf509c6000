import { describe, expect, it } from 'vitest';
import { nodeView, type ServicePortState } from '../../model/index.ts';
import { memoryLogger } from '../../runtime/log.ts';
import { LeftOut, findRefused, unrenderable } from './left-out.ts';
import { fixtureState } from './testing.ts';

const state = fixtureState();
const keys = [...state.servicePorts.keys()].sort();
const svc1 = state.servicePorts.get('ns1/svc1:p80')!;

/** A pretend tool: refuses any group holding one of `bad`, and counts its calls. */
function tool(bad: string[], opts: { fixedRefused?: boolean; together?: string[] } = {}) {
  const calls: string[][] = [];
  const check = async (group: readonly string[]) => {
    calls.push([...group]);
    if (opts.fixedRefused) return 'line 1 failed';
    const hit = group.find((k) => bad.includes(k));
    if (hit) return `refused ${hit}`;
    if (opts.together && opts.together.every((k) => group.includes(k))) return 'refused together';
    return undefined;
  };
  return { calls, check };
}

describe('findRefused: bisection with the tool’s check mode', () => {
  it('finds the one refused port among many, with a logarithmic number of checks', async () => {
    const t = tool(['ns4/svc4:p80']);
    expect(await findRefused(keys, t.check)).toEqual([{ key: 'ns4/svc4:p80', reason: 'refused ns4/svc4:p80' }]);
    expect(t.calls.length).toBeLessThanOrEqual(2 + 2 * Math.ceil(Math.log2(keys.length)) + 1);
    expect(t.calls.at(-1)).toEqual(keys.filter((k) => k !== 'ns4/svc4:p80'));
  });

  it('finds each of several', async () => {
    const found = await findRefused(keys, tool(['ns2/svc2:p80', 'ns9/svc9:sctp']).check);
    expect(found?.map((r) => r.key)).toEqual(['ns2/svc2:p80', 'ns9/svc9:sctp']);
  });

  it('blames no service port when the fixed rules alone are refused, when each port passes, or when ports fail only together', async () => {
    expect(await findRefused(keys, tool([], { fixedRefused: true }).check)).toBeUndefined();
    expect(await findRefused(keys, tool([]).check)).toBeUndefined();
    expect(await findRefused(keys, tool([], { together: ['ns1/svc1:p80', 'ns9/svc9:sctp'] }).check)).toBeUndefined();
  });
});

describe('unrenderable: values that are not what rule text expects (the model never makes them)', () => {
  const bad = (patch: Partial<ServicePortState>) => unrenderable({ ...svc1, ...patch });
  it.each([
    ['a cluster IP with a rule after it', { clusterIPs: ['172.30.0.41 -j DROP'] }, /clusterIPs: .* is not an IP address/],
    ['an endpoint address that is no IP', { clusterEndpoints: [{ ...svc1.clusterEndpoints[0]!, address: 'not-an-ip' }] }, /clusterEndpoints: "not-an-ip" is not an IPv4 address/],
    ['an endpoint of the other family', { internalEndpoints: [{ ...svc1.internalEndpoints[0]!, address: 'fd00::1' }] }, /is not an IPv4 address/],
    ['a source range that is no CIDR', { loadBalancerSourceRanges: ['10.0.0.0/8\nflush ruleset'] }, /not a CIDR/],
    ['a protocol with a rule in it', { protocol: 'TCP -j DROP' as never }, /protocol .* is not one of TCP, UDP, SCTP/],
    ['a port that is no number', { port: '80 -j DROP' as never }, /port "80 -j DROP" is not an integer/],
  ])('%s', (_name, patch, why) => {
    expect(bad(patch as Partial<ServicePortState>)).toMatch(why);
  });

  it('takes every port the model makes, and leaves ranges to the kernel', () => {
    for (const sp of state.servicePorts.values()) expect(unrenderable(sp)).toBeUndefined();
    expect(bad({ port: 70000 })).toBeUndefined();
  });
});

describe('LeftOut', () => {
  it('leaves out an unrenderable port with a warning naming it, and tries it again once it changes', () => {
    const log = memoryLogger();
    const left = new LeftOut(log, 'tool');
    const broken = { ...svc1, clusterIPs: ['nope'] };
    const s1 = { node: state.node, servicePorts: new Map([...state.servicePorts, [svc1.key, broken]]) };
    const f1 = left.filter(nodeView(s1));
    expect(f1.state.servicePorts.has(svc1.key)).toBe(false);
    expect(f1.state.servicePorts.size).toBe(state.servicePorts.size - 1);
    expect(left.keys).toEqual([svc1.key]);
    expect(log.lines.map((l) => l.msg)).toEqual([
      'KPNG_ERR_SERVICE_PORT_REFUSED: left out service port "ns1/svc1:p80": clusterIPs: "nope" is not an IP address; the other service ports are programmed, this one again once it changes',
    ]);
    left.filter(nodeView(s1));
    expect(log.lines).toHaveLength(1); // once
    expect(left.filter(nodeView(state)).state.servicePorts.get(svc1.key)).toBe(svc1); // fixed
    expect(left.keys).toEqual([]);
  });

  it('a port the tool refused stays out while unchanged, and is tried again at a full sync', () => {
    const left = new LeftOut(memoryLogger(), 'tool');
    left.refused(nodeView(state), [{ key: svc1.key, reason: 'no' }]);
    expect(left.filter(nodeView(state)).state.servicePorts.has(svc1.key)).toBe(false);
    expect(left.filter(nodeView(fixtureState())).state.servicePorts.has(svc1.key)).toBe(false); // equal, not the same object: still out
    left.retryRefused();
    expect(left.filter(nodeView(state)).state.servicePorts.has(svc1.key)).toBe(true);
  });
});
