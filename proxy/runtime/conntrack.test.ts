import { describe, expect, it } from 'vitest';
import type { EndpointOpts } from '../model/testing.ts';
import { conntrackArgs, conntrackCleaner, executeConntrackPlan, planConntrackCleanup, type ConntrackFilter } from './conntrack.ts';
import type { RunResult } from '../exec.ts';
import { memoryLogger } from './log.ts';
import { stateOf, type SvcSpec } from './testing.ts';

function dns(endpoints: Array<string | EndpointOpts>, o: { protocol?: string; clusterIPs?: string[] } = {}): SvcSpec {
  const protocol = o.protocol ?? 'UDP';
  return {
    name: 'dns',
    opts: {
      type: 'LoadBalancer',
      clusterIPs: o.clusterIPs ?? ['10.96.0.53'],
      externalIPs: ['192.0.2.53'],
      lbIngress: [{ ip: '198.51.100.53' }],
      ports: [{ port: 53, protocol, nodePort: 30053 }],
    },
    endpoints,
    slicePorts: [{ port: 5353, protocol }],
  };
}

const short = (f: ConntrackFilter) => `${f.family} ${f.origDst ?? '*'}:${f.origPortDst} -> ${f.dstNat ?? '*'} (${f.reason})`;

describe('planConntrackCleanup', () => {
  it('an endpoint gone: flows to every frontend and the NodePort that were DNAT\'ed to it', () => {
    const prev = stateOf([dns(['10.0.0.1', '10.0.0.2'])]);
    const next = stateOf([dns(['10.0.0.1'])]);
    expect(planConntrackCleanup(prev, next).map(short).sort()).toEqual([
      'IPv4 *:30053 -> 10.0.0.2 (endpoint-removed)',
      'IPv4 10.96.0.53:53 -> 10.0.0.2 (endpoint-removed)',
      'IPv4 192.0.2.53:53 -> 10.0.0.2 (endpoint-removed)',
      'IPv4 198.51.100.53:53 -> 10.0.0.2 (endpoint-removed)',
    ]);
  });

  it('an endpoint no longer serving counts as gone', () => {
    const prev = stateOf([dns(['10.0.0.1', '10.0.0.2'])]);
    const next = stateOf([dns(['10.0.0.1', { ip: '10.0.0.2', ready: false, serving: false, terminating: true }])]);
    expect(planConntrackCleanup(prev, next).every((f) => f.dstNat === '10.0.0.2')).toBe(true);
    expect(planConntrackCleanup(prev, next)).toHaveLength(4);
  });

  it('the first endpoint: every flow to the frontends and the NodePort (they were rejected)', () => {
    const prev = stateOf([dns([])]);
    const next = stateOf([dns(['10.0.0.1'])]);
    expect(planConntrackCleanup(prev, next).map(short).sort()).toEqual([
      'IPv4 *:30053 -> * (first-endpoint)',
      'IPv4 10.96.0.53:53 -> * (first-endpoint)',
      'IPv4 192.0.2.53:53 -> * (first-endpoint)',
      'IPv4 198.51.100.53:53 -> * (first-endpoint)',
    ]);
  });

  it('a Service removed: flows DNAT\'ed to each of its endpoints', () => {
    const prev = stateOf([dns(['10.0.0.1'])]);
    const next = stateOf([]);
    expect(planConntrackCleanup(prev, next).map((f) => `${f.origDst ?? '*'} ${f.dstNat}`).sort()).toEqual(['* 10.0.0.1', '10.96.0.53 10.0.0.1', '192.0.2.53 10.0.0.1', '198.51.100.53 10.0.0.1']);
  });

  it('the first sync after a start deletes nothing, so a restart keeps live UDP flows', () => {
    const next = stateOf([dns(['10.0.0.1'])]);
    expect(planConntrackCleanup(undefined, next)).toEqual([]);
  });

  it('nothing for TCP and SCTP, nor for an endpoint added to a Service that had some', () => {
    for (const protocol of ['TCP', 'SCTP']) {
      expect(planConntrackCleanup(stateOf([dns(['10.0.0.1', '10.0.0.2'], { protocol })]), stateOf([dns(['10.0.0.3'], { protocol })]))).toEqual([]);
      expect(planConntrackCleanup(stateOf([dns([], { protocol })]), stateOf([dns(['10.0.0.3'], { protocol })]))).toEqual([]);
    }
    expect(planConntrackCleanup(stateOf([dns(['10.0.0.1'])]), stateOf([dns(['10.0.0.1', '10.0.0.2'])]))).toEqual([]);
    const same = stateOf([dns(['10.0.0.1'])]);
    expect(planConntrackCleanup(same, same)).toEqual([]);
  });

  it('keeps families apart: an IPv6 endpoint gone touches IPv6 frontends only', () => {
    const v6 = (eps: string[]) => ({ ...dns(eps, { clusterIPs: ['fd00::53'] }), opts: { ...dns([]).opts, clusterIPs: ['fd00::53'], externalIPs: ['2001:db8::53'], lbIngress: [] } });
    const plan = planConntrackCleanup(stateOf([v6(['fd00:1::1', 'fd00:1::2'])]), stateOf([v6(['fd00:1::1'])]));
    expect(plan.map(short).sort()).toEqual([
      'IPv6 *:30053 -> fd00:1::2 (endpoint-removed)',
      'IPv6 2001:db8::53:53 -> fd00:1::2 (endpoint-removed)',
      'IPv6 fd00::53:53 -> fd00:1::2 (endpoint-removed)',
    ]);
    expect(conntrackArgs(plan.find((f) => f.origDst === undefined)!)).toEqual(['-D', '-f', 'ipv6', '-p', 'udp', '--orig-port-dst', '30053', '--dst-nat', 'fd00:1::2']);
  });
});

describe('conntrackArgs', () => {
  it('spells the filters as conntrack-tools takes them', () => {
    expect(conntrackArgs({ family: 'IPv4', protocol: 'udp', origDst: '10.96.0.53', origPortDst: 53, dstNat: '10.0.0.2', servicePort: 'default/dns', reason: 'endpoint-removed' })).toEqual([
      '-D',
      '-p',
      'udp',
      '--orig-dst',
      '10.96.0.53',
      '--orig-port-dst',
      '53',
      '--dst-nat',
      '10.0.0.2',
    ]);
    expect(conntrackArgs({ family: 'IPv4', protocol: 'udp', origPortDst: 30053, servicePort: 'default/dns', reason: 'first-endpoint' })).toEqual(['-D', '-p', 'udp', '--orig-port-dst', '30053']);
  });
});

describe('executeConntrackPlan', () => {
  const filter: ConntrackFilter = { family: 'IPv4', protocol: 'udp', origDst: '10.96.0.53', origPortDst: 53, servicePort: 'default/dns', reason: 'first-endpoint' };

  it('reads the deleted count; exit 1 with "0 flow entries have been deleted" is not an error', async () => {
    const answers: RunResult[] = [
      { exitCode: 0, stdout: 'udp 17 ...', stderr: 'conntrack v1.4.7 (conntrack-tools): 2 flow entries have been deleted.\n' },
      { exitCode: 1, stdout: '', stderr: 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n' },
    ];
    const calls: string[][] = [];
    const r = await executeConntrackPlan([filter, { ...filter, origDst: '192.0.2.53' }], {
      concurrency: 1,
      run: async (file, args) => {
        calls.push([file, ...args]);
        return answers.shift()!;
      },
    });
    expect(r).toEqual({ deleted: 2, errors: [] });
    expect(calls).toEqual([
      ['conntrack', '-D', '-p', 'udp', '--orig-dst', '10.96.0.53', '--orig-port-dst', '53'],
      ['conntrack', '-D', '-p', 'udp', '--orig-dst', '192.0.2.53', '--orig-port-dst', '53'],
    ]);
  });

  it('returns real failures as KPNG_ERR_CONNTRACK with the command and its complaint', async () => {
    const r = await executeConntrackPlan([filter], { run: async () => ({ exitCode: 2, stdout: '', stderr: "conntrack v1.4.7 (conntrack-tools): Operation failed: invalid parameters\n" }) });
    expect(r.deleted).toBe(0);
    expect(r.errors.map((e) => e.message)).toEqual(['KPNG_ERR_CONNTRACK: conntrack -D -p udp --orig-dst 10.96.0.53 --orig-port-dst 53 failed: conntrack v1.4.7 (conntrack-tools): Operation failed: invalid parameters']);
  });

  it('the cleaner reports a missing conntrack binary once, and goes on', async () => {
    const logger = memoryLogger();
    const clean = conntrackCleaner({ logger, run: async () => ({ exitCode: undefined, stdout: '', stderr: '', error: 'Command failed with ENOENT: conntrack -D' }) });
    const prev = stateOf([dns([])]);
    const next = stateOf([dns(['10.0.0.1'])]);
    await clean(prev, next);
    await clean(prev, next);
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(['conntrack (conntrack-tools) is not installed: stale UDP flows are not cleaned up']);
  });
});
