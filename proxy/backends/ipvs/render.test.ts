import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nodeView } from '../../model/index.ts';
import { changesBetween, service, slice } from '../../model/testing.ts';
import { diffSets, parseIpsetSave, renderIpsetRestore, type SetMembers } from './ipset.ts';
import { IpvsTable } from './ipvsadm.ts';
import { Ruleset } from '../iptables/rules.ts';
import { PlanIndex } from './plan-index.ts';
import { diffIpvs, renderFamily, renderPartial } from './render.ts';
import { fixtureObjects, fixtureObjectsAfterEndpointChange, fixtureOptions, fixtureState, nodeName } from './testing.ts';

const golden = (name: string, text: string) => {
  const file = new URL(`./testdata/${name}.golden`, import.meta.url);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, text);
  expect(text, `testdata/${name}.golden differs (UPDATE_GOLDEN=1 rewrites it)`).toBe(readFileSync(file, 'utf8'));
};

describe.each(['IPv4', 'IPv6'] as const)('full render, %s', (family) => {
  const r = renderFamily(nodeView(fixtureState()), fixtureOptions(family));
  const tag = family.toLowerCase();

  it('ipvsadm -R input: a virtual server per frontend of each service port, its endpoints as masqueraded real servers', () => {
    golden(`ipvsadm-${tag}`, r.ipvsadm);
    // The model of ipvsadm takes it, and gives it back as ipvsadm -S -n would.
    const t = new IpvsTable().apply(r.ipvsadm);
    expect(t.save()).toBe(r.ipvsadm);
  });

  it('ipset restore input: every set created, members added', () => {
    golden(`ipset-${tag}`, r.ipset);
    const sets = parseIpsetSave(r.ipset);
    expect(sets.size).toBe(18);
    for (const s of sets.values()) expect(s.name.length).toBeLessThanOrEqual(31);
    for (const [name, want] of r.plan.sets) expect([...sets.get(name)!.members].sort()).toEqual([...want].sort());
  });

  it('iptables-restore input: the rules ipvs mode keeps, jump rules included', () => {
    golden(`iptables-${tag}`, r.iptables);
    const rs = new Ruleset().apply(r.iptables);
    expect(rs.rules('nat', 'PREROUTING').map((x) => x.args.at(-1))).toEqual(['KUBE-SERVICES']);
    expect(rs.rules('filter', 'INPUT').map((x) => x.args.at(-1))).toEqual(['KUBE-IPVS-FILTER', 'KUBE-PROXY-FIREWALL', 'KUBE-NODE-PORT']);
  });

  it('kube-ipvs0 gets every cluster, external and load balancer IP of the family, never the node IP', () => {
    golden(`addresses-${tag}`, r.addresses);
    expect(r.addresses).not.toContain(family === 'IPv4' ? '192.168.0.2/' : '2001:db8::2/');
  });
});

describe('render details', () => {
  const v4 = renderFamily(nodeView(fixtureState()), fixtureOptions('IPv4'));
  it('ClientIP affinity is persistence with the timeout; the scheduler is the flag’s', () => {
    expect(v4.ipvsadm).toContain('-A -t 172.30.0.45:80 -s rr -p 10800');
    const mh = renderFamily(nodeView(fixtureState()), fixtureOptions('IPv4', { scheduler: 'mh' }));
    expect(mh.ipvsadm).toContain('-A -t 172.30.0.41:80 -s mh -b mh-port');
  });
  it('no endpoints: every frontend of svc6 is in KUBE-NO-ENDPOINTS', () => {
    expect([...v4.plan.sets.get('KUBE-NO-ENDPOINTS')!].sort()).toEqual(['172.30.0.46,tcp:80', '192.168.0.2,tcp:3006', '9.10.11.12,tcp:80']);
  });
  it('--masquerade-all and no --cluster-cidr change the cluster IP masquerade rule only', () => {
    const all = renderFamily(nodeView(fixtureState()), fixtureOptions('IPv4', { masqueradeAll: true }));
    expect(all.iptables).toContain('-m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ');
    const none = renderFamily(nodeView(fixtureState()), fixtureOptions('IPv4', { clusterCIDRs: [] }));
    expect(none.iptables).toContain('-m set --match-set KUBE-CLUSTER-IP src,dst -j KUBE-MARK-MASQ');
  });
});

describe('partial render (the view’s change set)', () => {
  type Obj = { kind: string; metadata: { name: string } };
  const without = (x: unknown[], names: string[]) => x.filter((o) => !names.includes((o as Obj).metadata.name));
  const replacing = (x: unknown[], name: string, o: { kind?: string; metadata?: { name?: string } }) => [...x.filter((y) => (y as Obj).metadata.name !== name || (y as Obj).kind !== o.kind), o];
  const p80 = [{ name: 'p80', port: 80 }];
  const steps: Array<(x: unknown[]) => unknown[]> = [
    () => fixtureObjectsAfterEndpointChange(),
    (x) => without(x, ['svc10']),
    (x) => without(x, ['svc2-v4']), // svc2 loses its IPv4 endpoints: KUBE-NO-ENDPOINTS members
    (x) => without(x, ['svc5', 'svc5-v4', 'svc5-v6']), // the source-range sets empty: the iptables rules change
    (x) => [...x, service('svc5', { namespace: 'ns5', type: 'LoadBalancer', clusterIPs: ['172.30.0.45', 'fd00:30::45'], ports: [{ name: 'p80', port: 80, nodePort: 3005 }], lbIngress: [{ ip: '5.6.7.8' }, { ip: '2001:db8:99::8' }], sourceRanges: ['203.0.113.0/25', '2001:db8:77::/48'], affinity: 60 })],
    (x) => [...x, slice('svc5-v4', 'svc5', ['10.180.0.6'], { namespace: 'ns5', ports: p80 }), slice('svc5-v6', 'svc5', ['fd00:180::6'], { namespace: 'ns5', ports: p80 })],
    (x) => [...x, slice('svc6', 'svc6', ['10.180.0.30'], { namespace: 'ns6', ports: p80 })], // no endpoints → endpoints
    (x) => replacing(x, 'svc7', slice('svc7', 'svc7', [{ ip: '10.180.0.8', node: nodeName }], { namespace: 'ns7', ports: p80 })), // ITP=Local gets a local endpoint
    // svc12 shares svc4's external IP (another port): the address is bound once, and stays when svc12 goes.
    (x) => [...x, service('svc12', { namespace: 'ns12', clusterIPs: ['172.30.0.52'], externalIPs: ['192.168.99.33'], ports: [{ name: 'p80', port: 8080 }] }), slice('svc12', 'svc12', ['10.180.0.2'], { namespace: 'ns12', ports: [{ name: 'p80', port: 8080 }] })],
    (x) => without(x, ['svc12']),
    (x) => without(x, ['svc4']),
    () => fixtureObjects(),
  ];

  it.each(['IPv4', 'IPv6'] as const)('%s: applied one after another, each writes what the whole plan compared with the kernel would, and the kernel ends as a fresh render', (family) => {
    const o = fixtureOptions(family);
    let prev = fixtureState();
    const first = renderFamily(nodeView(prev), o);
    const table = new IpvsTable().apply(first.ipvsadm);
    const sets: SetMembers = new Map([...first.plan.sets].map(([k, v]) => [k, new Set(v)]));
    const bound = new Set(first.plan.bind);
    let iptablesText = first.iptables.replace(/^-I .*\n/gm, '');
    const index = new PlanIndex(family, first.ports);
    let objects = fixtureObjects();
    let wroteAddresses = 0;
    let wroteIptables = 0;
    for (const step of steps) {
      objects = step(objects);
      const state = fixtureState(objects);
      const changes = changesBetween(prev, state);
      const fresh = renderFamily(nodeView(state), o);
      const wholeIpvs = diffIpvs(table, fresh.plan.virtualServers).text;
      const wholeIpset = renderIpsetRestore(family, diffSets(sets, fresh.plan.sets), false);
      const r = renderPartial(nodeView(state), o, index, { ipvs: table, iptablesText }, changes.families[family].ports.keys());
      const what = String(step);
      expect(r.ipvsadm, what).toBe(wholeIpvs);
      expect(r.ipset, what).toBe(wholeIpset);
      const freshIptables = fresh.iptables.replace(/^-I .*\n/gm, '');
      expect(r.iptables, what).toBe(freshIptables === iptablesText ? '' : freshIptables);
      table.apply(r.ipvsadm);
      for (const line of r.ipset.split('\n').filter(Boolean)) {
        const [op, name, member] = line.split(' ');
        if (op === 'add') sets.get(name!)!.add(member!);
        else sets.get(name!)!.delete(member!);
      }
      for (const line of r.addresses.split('\n').filter(Boolean)) {
        const [, op, cidr] = line.split(' ');
        if (op === 'add') bound.add(cidr!.split('/')[0]!);
        else bound.delete(cidr!.split('/')[0]!);
      }
      if (r.iptables !== '') iptablesText = r.iptables;
      wroteAddresses += r.written.addresses;
      wroteIptables += r.iptables === '' ? 0 : 1;
      // Real servers left at weight 0 drain; the rest is the fresh render.
      expect(table.save().split('\n').filter((l) => !l.endsWith(' -w 0')), what).toEqual(fresh.ipvsadm.split('\n'));
      for (const [name, members] of fresh.plan.sets) expect([...sets.get(name)!].sort(), `${what}: ${name}`).toEqual([...members].sort());
      expect([...bound].sort(), what).toEqual([...fresh.plan.bind].sort());
      expect(iptablesText, what).toBe(freshIptables);
      prev = state;
    }
    expect(wroteAddresses).toBeGreaterThan(0);
    expect(wroteIptables).toBeGreaterThan(0);
    expect(index.size).toBe(nodeView(fixtureState()).families[family].servicePorts.size);
  });
});
