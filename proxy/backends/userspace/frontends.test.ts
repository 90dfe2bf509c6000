// The plan of each fixture Service: which frontends a family serves, the two endpoint sets
// (ITP and ETP applied), and each frontend's action; then the rules rendered from it.
import { describe, expect, it } from 'vitest';
import { nodeView } from '../../model/index.ts';
import { fixtureState } from '../common/testing.ts';
import { planPort, unservable, type PortPlan } from './frontends.ts';
import { checkInput, jumpRules, renderRules, restoreInput } from './rules.ts';

const view = nodeView(fixtureState());
const plan = (key: string, family: 'IPv4' | 'IPv6' = 'IPv4'): PortPlan => {
  const fsp = view.families[family].servicePorts.get(key);
  const p = fsp && planPort(fsp);
  if (!p) throw new Error(`no ${family} plan for ${key}`);
  return p;
};
const addresses = (targets: { address: string }[]) => targets.map((t) => t.address).sort();
const actions = (p: PortPlan) => Object.fromEntries(p.frontends.map((f) => [`${f.kind} ${f.ip ?? ''}`.trim(), f.action]));

describe('planPort', () => {
  it('ClusterIP: one frontend balancing over every endpoint of the family', () => {
    const v4 = plan('ns1/svc1:p80');
    expect(actions(v4)).toEqual({ 'cluster-ip 172.30.0.41': 'redirect' });
    expect(addresses(v4.internal)).toEqual(['10.180.0.1', '10.180.0.2']);
    expect(addresses(plan('ns1/svc1:p80', 'IPv6').internal)).toEqual(['fd00:180::1', 'fd00:180::2']);
  });

  it('externalTrafficPolicy=Local: the cluster IP reaches every endpoint, the NodePort, ExternalIP and LoadBalancer IP only the local one', () => {
    const p = plan('ns2/svc2:p80');
    expect(addresses(p.internal)).toEqual(['10.180.0.3', '10.180.0.4']);
    expect(addresses(p.external)).toEqual(['10.180.0.3']);
    expect(actions(p)).toEqual({ 'cluster-ip 172.30.0.42': 'redirect', 'external-ip 192.168.99.22': 'redirect', 'load-balancer 1.2.3.4': 'redirect', 'node-port': 'redirect' });
  });

  it('externalTrafficPolicy=Local without a local endpoint: external frontends drop, the cluster IP still serves', () => {
    expect(actions(plan('ns3/svc3:p80'))).toEqual({ 'cluster-ip 172.30.0.43': 'redirect', 'node-port': 'drop' });
  });

  it('internalTrafficPolicy=Local without a local endpoint drops; no endpoint anywhere rejects every frontend', () => {
    expect(actions(plan('ns7/svc7:p80'))).toEqual({ 'cluster-ip 172.30.0.47': 'drop' });
    expect(actions(plan('ns6/svc6:p80'))).toEqual({ 'cluster-ip 172.30.0.46': 'reject', 'load-balancer 9.10.11.12': 'reject', 'node-port': 'reject' });
  });

  it('carries the affinity timeout and the source ranges of the family', () => {
    const p = plan('ns5/svc5:p80');
    expect(p.affinityTimeoutMs).toBe(10_800_000);
    expect(p.frontends.find((f) => f.kind === 'load-balancer')!.sourceRanges).toEqual(['203.0.113.0/25', '192.168.0.0/24']);
    expect(plan('ns5/svc5:p80', 'IPv6').frontends.find((f) => f.kind === 'load-balancer')!.sourceRanges).toEqual(['2001:db8:77::/48']);
  });

  it('gives each frontend a key of its own, and leaves SCTP out (no socket for it here)', () => {
    const keys = [...view.families.IPv4.servicePorts.values()].flatMap((fsp) => planPort(fsp)?.frontends.map((f) => f.key) ?? []);
    expect(new Set(keys).size).toBe(keys.length);
    expect(planPort(view.families.IPv4.servicePorts.get('ns9/svc9:sctp')!)).toBeUndefined();
    expect(unservable(view)).toEqual(['ns9/svc9:sctp']);
  });
});

describe('renderRules', () => {
  const served = (p: PortPlan, port = 40000) => p.frontends.map((f, i) => ({ ...f, proxyPort: port + i }));

  it('redirects a served frontend in PREROUTING (container) and OUTPUT (host) chains', () => {
    const r = renderRules('IPv4', served(plan('ns1/svc1:p80')), []);
    expect(r.nat).toEqual([
      '-A KUBE-PORTALS-CONTAINER -m comment --comment "ns1/svc1:p80 cluster-ip" -d 172.30.0.41/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 40000',
      '-A KUBE-PORTALS-HOST -m comment --comment "ns1/svc1:p80 cluster-ip" -d 172.30.0.41/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 40000',
    ]);
    expect(r.filter).toEqual([]);
  });

  it("sends the node's own UDP to the node's IP (cluster, external and load-balancer IPs) or keeps its local address (NodePort), not to loopback", () => {
    const udp = (kind: 'cluster-ip' | 'node-port', ip?: string) => ({ key: kind, servicePort: 'ns1/dns:dns', family: 'IPv4' as const, protocol: 'UDP' as const, kind, ...(ip && { ip }), port: kind === 'node-port' ? 30053 : 53, traffic: 'cluster' as never, sourceRanges: [], action: 'redirect' as const, proxyPort: kind === 'node-port' ? 40001 : 40000 });
    const v4 = renderRules('IPv4', [udp('cluster-ip', '172.30.0.53'), udp('node-port')], [], '10.0.0.1');
    expect(v4.nat.filter((l) => l.startsWith('-A KUBE-PORTALS-HOST') || l.startsWith('-A KUBE-NODEPORT-HOST'))).toEqual([
      '-A KUBE-PORTALS-HOST -m comment --comment "ns1/dns:dns cluster-ip" -d 172.30.0.53/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.0.0.1:40000',
      '-A KUBE-NODEPORT-HOST -m comment --comment "ns1/dns:dns node-port" -p udp -m udp --dport 30053 -j DNAT --to-destination :40001',
    ]);
    // Pods and other hosts: REDIRECT, whose address (the receiving interface's) is the one replies leave from.
    expect(v4.nat.filter((l) => l.includes('-CONTAINER')).every((l) => l.endsWith('-j REDIRECT --to-ports 40000') || l.endsWith('-j REDIRECT --to-ports 40001'))).toBe(true);
    const v6 = renderRules('IPv6', [{ ...udp('cluster-ip', 'fd00::53'), family: 'IPv6' }], [], 'fd00::1');
    expect(v6.nat).toContain('-A KUBE-PORTALS-HOST -m comment --comment "ns1/dns:dns cluster-ip" -d fd00::53/128 -p udp -m udp --dport 53 -j DNAT --to-destination [fd00::1]:40000');
  });

  it('NodePorts: every local address by default, or only --nodeport-addresses; unserved ones dropped or rejected in filter', () => {
    const np = renderRules('IPv4', served(plan('ns2/svc2:p80')), ['192.168.0.0/24']).nat.filter((l) => l.includes('NODEPORT'));
    expect(np).toEqual([
      '-A KUBE-NODEPORT-CONTAINER -m comment --comment "ns2/svc2:p80 node-port" -d 192.168.0.0/24 -p tcp -m tcp --dport 3001 -j REDIRECT --to-ports 40003',
      '-A KUBE-NODEPORT-HOST -m comment --comment "ns2/svc2:p80 node-port" -d 192.168.0.0/24 -p tcp -m tcp --dport 3001 -j REDIRECT --to-ports 40003',
    ]);
    expect(renderRules('IPv4', served(plan('ns3/svc3:p80')), []).filter).toEqual([
      '-A KUBE-USERSPACE-SERVICES -m comment --comment "ns3/svc3:p80 node-port has no local endpoints" -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 3003 -j DROP',
    ]);
    expect(renderRules('IPv4', served(plan('ns6/svc6:p80')), []).filter).toHaveLength(3);
    expect(renderRules('IPv4', served(plan('ns6/svc6:p80')), []).filter.every((l) => l.endsWith('-j REJECT'))).toBe(true);
  });

  it('LoadBalancer source ranges: only admitted sources are redirected from outside; the rest meet a DROP', () => {
    const r = renderRules('IPv4', served(plan('ns5/svc5:p80')), []);
    const lb = r.nat.filter((l) => l.includes('-d 5.6.7.8/32'));
    expect(lb.filter((l) => l.startsWith('-A KUBE-PORTALS-CONTAINER')).map((l) => /-s (\S+)/.exec(l)?.[1])).toEqual(['203.0.113.0/25', '192.168.0.0/24']);
    expect(r.filter).toEqual(['-A KUBE-USERSPACE-SERVICES -m comment --comment "ns5/svc5:p80 load-balancer outside loadBalancerSourceRanges" -d 5.6.7.8/32 -p tcp -m tcp --dport 80 -j DROP']);
  });

  it('UDP and IPv6 frontends', () => {
    const r = renderRules('IPv6', served(plan('ns1/svc1:p80', 'IPv6')), []);
    expect(r.nat[0]).toContain('-d fd00:30::41/128 -p tcp');
    expect(renderRules('IPv4', served(plan('ns10/svc10')), []).nat[0]).toContain('-p udp -m udp --dport 53 -j REDIRECT');
  });

  it('restore input rewrites our chains whole and inserts missing jumps portals first; the check input has a -C for every jump and rule', () => {
    const rules = renderRules('IPv4', served(plan('ns1/svc1:p80')), []);
    const text = restoreInput(rules, jumpRules);
    const nat = text.split('COMMIT')[0]!.split('\n');
    const inserted = nat.filter((l) => l.startsWith('-I PREROUTING'));
    expect(inserted.map((l) => l.split(' ').at(-1))).toEqual(['KUBE-NODEPORT-CONTAINER', 'KUBE-PORTALS-CONTAINER']);
    expect(nat).toContain(':KUBE-PORTALS-HOST - [0:0]');
    const check = checkInput(rules).split('\n').filter((l) => l.startsWith('-C'));
    expect(check).toHaveLength(jumpRules.length + rules.nat.length + rules.filter.length);
  });

  it('a name that is not a name stays inside its comment', () => {
    const p = plan('ns1/svc1:p80');
    const evil = { ...p.frontends[0]!, servicePort: 'ns1/x" -j ACCEPT\n-A INPUT', proxyPort: 1 };
    const [line] = renderRules('IPv4', [evil], []).nat;
    expect(line).not.toContain('\n');
    // The quote and the newline are gone, so the rest stays inside the one quoted comment word.
    expect(line).toBe('-A KUBE-PORTALS-CONTAINER -m comment --comment "ns1/x_ -j ACCEPT_-A INPUT cluster-ip" -d 172.30.0.41/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 1');
  });
});
