// The two backends' golden rules for one state (the shared fixture cluster) traced packet
// by packet: iptables (../iptables/testdata, through ../iptables/trace.testkit.ts) and nftables
// (./testdata, through ./trace.testkit.ts) must send each packet the same way, with the same
// probabilities, the same masquerading and the same reject, except where the two modes
// differ by design (listed at the end, and asserted as differences).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allowedClient, blockedClient, nodeIPv4, nodeIPv6 } from '../common/testing.ts';
import { servicePortEndpointChainName } from '../iptables/names.ts';
import { Ruleset } from '../iptables/rules.ts';
import { Tracer, type Outcome as IptablesOutcome } from '../iptables/trace.testkit.ts';
import { NftTracer, type Outcome as NftOutcome, type Packet } from './trace.testkit.ts';

const iptablesGolden = (name: string) => readFileSync(new URL(`../iptables/testdata/${name}.golden`, import.meta.url), 'utf8');
const nftGolden = (name: string) => readFileSync(new URL(`./testdata/${name}.nft`, import.meta.url), 'utf8');

const pod = '10.0.1.5';
const outside = '198.51.100.7';
const pod6 = 'fd00:10::5';
const outside6 = '2001:db8:66::1';

/** What both tracers report, in one shape: verdict, DNAT target, masquerade, reject type, probability. */
const normal = (os: ReadonlyArray<IptablesOutcome | NftOutcome>) =>
  os.map((o) => `${o.verdict}${o.dnat ? ` ${o.dnat}` : ''}${o.masquerade ? ' masq' : ''}${o.verdict === 'REJECT' ? ` ${o.rejectWith}` : ''} ${o.probability.toFixed(4)}`);

const pkt = (src: string, origin: Packet['origin'], dst: string, dport: number, protocol: Packet['protocol'] = 'tcp'): Packet => ({ src, origin, dst, dport, protocol });

const v4Packets: Array<[string, Packet]> = [
  ['ClusterIP from a pod', pkt(pod, 'pod', '172.30.0.41', 80)],
  ['ClusterIP from outside the cluster', pkt(outside, 'external', '172.30.0.41', 80)],
  ['ClusterIP from the node', pkt(nodeIPv4, 'host', '172.30.0.41', 80)],
  ['hairpin', pkt('10.180.0.1', 'pod', '172.30.0.41', 80)],
  ['three endpoints', pkt(pod, 'pod', '172.30.0.44', 80)],
  ['NodePort, externalTrafficPolicy Cluster, from outside', pkt(outside, 'external', nodeIPv4, 3004)],
  ['NodePort, externalTrafficPolicy Cluster, from a pod', pkt(pod, 'pod', nodeIPv4, 3004)],
  ['NodePort, externalTrafficPolicy Cluster, from the node', pkt(nodeIPv4, 'host', nodeIPv4, 3004)],
  ['ExternalIP, externalTrafficPolicy Cluster', pkt(outside, 'external', '192.168.99.33', 80)],
  ['NodePort, externalTrafficPolicy Local, from outside', pkt(outside, 'external', nodeIPv4, 3001)],
  ['LoadBalancer IP, externalTrafficPolicy Local, from outside', pkt(outside, 'external', '1.2.3.4', 80)],
  ['ExternalIP, externalTrafficPolicy Local, from outside', pkt(outside, 'external', '192.168.99.22', 80)],
  ['LoadBalancer IP, externalTrafficPolicy Local, from a pod', pkt(pod, 'pod', '1.2.3.4', 80)],
  ['NodePort, externalTrafficPolicy Local, from the node', pkt(nodeIPv4, 'host', nodeIPv4, 3001)],
  ['NodePort, externalTrafficPolicy Local without a local endpoint, from outside', pkt(outside, 'external', nodeIPv4, 3003)],
  ['NodePort, externalTrafficPolicy Local without a local endpoint, from a pod', pkt(pod, 'pod', nodeIPv4, 3003)],
  ['no endpoints: cluster IP', pkt(pod, 'pod', '172.30.0.46', 80)],
  ['no endpoints: NodePort', pkt(outside, 'external', nodeIPv4, 3006)],
  ['no endpoints: LoadBalancer IP', pkt(outside, 'external', '9.10.11.12', 80)],
  ['no endpoints: cluster IP from the node', pkt(nodeIPv4, 'host', '172.30.0.46', 80)],
  ['internalTrafficPolicy Local without a local endpoint', pkt(pod, 'pod', '172.30.0.47', 80)],
  ['source ranges: a blocked client', pkt(blockedClient, 'external', '5.6.7.8', 80)],
  ['source ranges: an allowed client', pkt(allowedClient, 'external', '5.6.7.8', 80)],
  ['source ranges: the LoadBalancer IP itself', pkt('5.6.7.8', 'external', '5.6.7.8', 80)],
  ['source ranges do not filter the NodePort', pkt(blockedClient, 'external', nodeIPv4, 3005)],
  ['affinity: a new client', pkt(pod, 'pod', '172.30.0.45', 80)],
  ['terminating fallback', pkt(pod, 'pod', '172.30.0.48', 80)],
  ['SCTP cluster IP', pkt(pod, 'pod', '172.30.0.49', 9999, 'sctp')],
  ['SCTP NodePort', pkt(outside, 'external', nodeIPv4, 3009, 'sctp')],
  ['UDP on an unnamed port', pkt(pod, 'pod', '172.30.0.50', 53, 'udp')],
  ['an address that is no Service', pkt(pod, 'pod', '10.180.0.1', 80)],
];

const v6Packets: Array<[string, Packet]> = [
  ['ClusterIP from a pod', pkt(pod6, 'pod', 'fd00:30::41', 80)],
  ['ClusterIP from outside the cluster', pkt(outside6, 'external', 'fd00:30::41', 80)],
  ['hairpin', pkt('fd00:180::1', 'pod', 'fd00:30::41', 80)],
  ['NodePort, externalTrafficPolicy Local, from outside', pkt(outside6, 'external', nodeIPv6, 3001)],
  ['LoadBalancer IP, externalTrafficPolicy Local, from a pod', pkt(pod6, 'pod', '2001:db8:99::4', 80)],
  ['NodePort, externalTrafficPolicy Local, from the node', pkt(nodeIPv6, 'host', nodeIPv6, 3001)],
  ['source ranges: a blocked client', pkt(outside6, 'external', '2001:db8:99::8', 80)],
  ['source ranges: an allowed client', pkt('2001:db8:77::1', 'external', '2001:db8:99::8', 80)],
  ['affinity: a new client', pkt(pod6, 'pod', 'fd00:30::45', 80)],
  ['SCTP NodePort', pkt(outside6, 'external', nodeIPv6, 3009, 'sctp')],
];

describe('the iptables and nft goldens treat every packet alike', () => {
  const iptables4 = new Tracer(iptablesGolden('full-ipv4'), { localAddresses: [nodeIPv4] });
  const nft4 = new NftTracer(nftGolden('full-ipv4'), { localAddresses: [nodeIPv4] });
  const iptables6 = new Tracer(iptablesGolden('full-ipv6'), { localAddresses: [nodeIPv6] });
  const nft6 = new NftTracer(nftGolden('full-ipv6'), { localAddresses: [nodeIPv6] });

  it.each(v4Packets)('IPv4: %s', (_, p) => {
    const want = normal(iptables4.trace(p));
    expect(want.length).toBeGreaterThan(0);
    expect(normal(nft4.trace(p))).toEqual(want);
  });

  it.each(v6Packets)('IPv6: %s', (_, p) => {
    const want = normal(iptables6.trace(p));
    expect(want.length).toBeGreaterThan(0);
    expect(normal(nft6.trace(p))).toEqual(want);
  });

  it('affinity: a client each remembers for an endpoint goes back to that endpoint in both', () => {
    for (const ep of ['10.180.0.6', '10.180.0.7']) {
      const recent = new Set([servicePortEndpointChainName('ns5/svc5:p80', 'TCP', `${ep}:80`)]);
      const sets = [...nft4.nft.table('ip')!.sets.keys()].filter((n) => n.startsWith('affinity-') && n.endsWith(`__${ep}/80`));
      expect(sets).toHaveLength(1);
      const p = pkt(pod, 'pod', '172.30.0.45', 80);
      const want = normal(iptables4.trace(p, { recent }));
      expect(want).toEqual([`ACCEPT ${ep}:80 1.0000`]);
      expect(normal(nft4.trace(p, { affinity: new Set(sets) }))).toEqual(want);
    }
  });

  it('after the partial sync goldens on top of the full ones: the same three-way split', () => {
    const iptables = new Tracer(new Ruleset().apply(iptablesGolden('full-ipv4')).apply(iptablesGolden('partial-ipv4-endpoint-change')), { localAddresses: [nodeIPv4] });
    const nft = new NftTracer([nftGolden('full-ipv4'), nftGolden('partial-ipv4-endpoint-change')], { localAddresses: [nodeIPv4] });
    for (const [, p] of v4Packets) expect(normal(nft.trace(p)), `${p.dst}:${p.dport}`).toEqual(normal(iptables.trace(p)));
    expect(normal(nft.trace(pkt(pod, 'pod', '172.30.0.41', 80)))).toHaveLength(3);
  });

  describe('where the modes differ by design (as kube-proxy’s iptables and nftables modes do)', () => {
    it('a cluster IP on a port no Service has: nftables rejects, iptables lets it through unchanged', () => {
      const p = pkt(pod, 'pod', '172.30.0.41', 81);
      expect(normal(iptables4.trace(p))).toEqual(['ACCEPT 1.0000']);
      expect(normal(nft4.trace(p))).toEqual(['REJECT icmp-port-unreachable 1.0000']);
    });

    it('NodePorts: iptables answers on every local address by default, nftables on the node’s primary IPs', () => {
      const node = { localAddresses: [nodeIPv4, '192.168.0.77'] };
      const p = pkt(outside, 'external', '192.168.0.77', 3004);
      expect(normal(new Tracer(iptablesGolden('full-ipv4'), node).trace(p))).toHaveLength(3);
      expect(normal(new NftTracer(nftGolden('full-ipv4'), node).trace(p))).toEqual(['ACCEPT 1.0000']);
    });

    it('localhost NodePorts: iptables answers them on IPv4, nftables never', () => {
      const p = pkt('127.0.0.1', 'host', '127.0.0.1', 3004);
      expect(normal(iptables4.trace(p))).toHaveLength(3);
      expect(normal(nft4.trace(p))).toEqual(['ACCEPT 1.0000']);
    });
  });
});
