import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseIpsetSave } from './ipset.ts';
import { IpvsTable } from './ipvsadm.ts';
import { Ruleset } from '../iptables/rules.ts';
import { renderFamily } from './render.ts';
import { fixtureOptions, fixtureState } from './testing.ts';

const golden = (name: string, text: string) => {
  const file = new URL(`./testdata/${name}.golden`, import.meta.url);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, text);
  expect(text, `testdata/${name}.golden differs (UPDATE_GOLDEN=1 rewrites it)`).toBe(readFileSync(file, 'utf8'));
};

describe.each(['IPv4', 'IPv6'] as const)('full render, %s', (family) => {
  const r = renderFamily(fixtureState(), fixtureOptions(family));
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
  const v4 = renderFamily(fixtureState(), fixtureOptions('IPv4'));
  it('ClientIP affinity is persistence with the timeout; the scheduler is the flag’s', () => {
    expect(v4.ipvsadm).toContain('-A -t 172.30.0.45:80 -s rr -p 10800');
    const mh = renderFamily(fixtureState(), fixtureOptions('IPv4', { scheduler: 'mh' }));
    expect(mh.ipvsadm).toContain('-A -t 172.30.0.41:80 -s mh -b mh-port');
  });
  it('no endpoints: every frontend of svc6 is in KUBE-NO-ENDPOINTS', () => {
    expect([...v4.plan.sets.get('KUBE-NO-ENDPOINTS')!].sort()).toEqual(['172.30.0.46,tcp:80', '192.168.0.2,tcp:3006', '9.10.11.12,tcp:80']);
  });
  it('--masquerade-all and no --cluster-cidr change the cluster IP masquerade rule only', () => {
    const all = renderFamily(fixtureState(), fixtureOptions('IPv4', { masqueradeAll: true }));
    expect(all.iptables).toContain('-m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ');
    const none = renderFamily(fixtureState(), fixtureOptions('IPv4', { clusterCIDRs: [] }));
    expect(none.iptables).toContain('-m set --match-set KUBE-CLUSTER-IP src,dst -j KUBE-MARK-MASQ');
  });
});
