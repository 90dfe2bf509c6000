// The nft tracer over the nft backend's golden tables (./testdata): what each kind of
// frontend does with the first packet of a connection.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allowedClient, blockedClient, clusterCIDRs, fixtureState, nodeIPv4, nodeIPv6, scaleObjects } from '../common/testing.ts';
import { nodeView } from '../../model/index.ts';
import { planReplace } from './transaction.ts';
import { NftTracer, parseRule, type Outcome, type Packet } from './trace.testkit.ts';

const golden = (name: string) => readFileSync(new URL(`./testdata/${name}.nft`, import.meta.url), 'utf8');
const v4 = new NftTracer(golden('full-ipv4'), { localAddresses: [nodeIPv4] });
const v6 = new NftTracer(golden('full-ipv6'), { localAddresses: [nodeIPv6] });

const pod = '10.0.1.5';
const outside = '198.51.100.7';
const pkt = (p: Partial<Packet> & Pick<Packet, 'dst' | 'dport'>): Packet => ({ src: pod, protocol: 'tcp', origin: 'pod', ...p });
/** Outcomes as "verdict dnat masq probability" lines, for readable comparisons. */
const summary = (os: Outcome[]) => os.map((o) => `${o.verdict}${o.dnat ? ` ${o.dnat}` : ''}${o.masquerade ? ' masq' : ''}${o.rejectWith ? ` ${o.rejectWith}` : ''} ${o.probability.toFixed(4)}`);

describe('nft packet tracer over the golden tables', () => {
  it('ClusterIP from a pod: every endpoint, evenly, no masquerade, through the service-ips map', () => {
    const os = v4.trace(pkt({ dst: '172.30.0.41', dport: 80 }));
    expect(summary(os)).toEqual(['ACCEPT 10.180.0.1:80 0.5000', 'ACCEPT 10.180.0.2:80 0.5000']);
    expect(os[0]!.path.slice(0, 5)).toEqual(['filter-prerouting', 'firewall-check', 'nat-prerouting', 'services', 'service-ULMVA6XW-ns1/svc1/tcp/p80']);
  });

  it('ClusterIP from off-cluster: masqueraded (source outside the pod CIDR)', () => {
    expect(summary(v4.trace(pkt({ src: outside, origin: 'external', dst: '172.30.0.41', dport: 80 })))).toEqual(['ACCEPT 10.180.0.1:80 masq 0.5000', 'ACCEPT 10.180.0.2:80 masq 0.5000']);
  });

  it('hairpin: an endpoint reaching itself through its Service is masqueraded (@hairpin-endpoints)', () => {
    expect(summary(v4.trace(pkt({ src: '10.180.0.1', dst: '172.30.0.41', dport: 80 })))).toEqual(['ACCEPT 10.180.0.1:80 masq 0.5000', 'ACCEPT 10.180.0.2:80 0.5000']);
  });

  it('three endpoints: 1/3 each through numgen mod 3 and mod 2', () => {
    expect(summary(v4.trace(pkt({ dst: '172.30.0.44', dport: 80 })))).toEqual(['ACCEPT 10.180.0.20:80 0.3333', 'ACCEPT 10.180.0.21:80 0.3333', 'ACCEPT 10.180.0.22:80 0.3333']);
  });

  it('NodePort from outside (externalTrafficPolicy Cluster): masqueraded, to every endpoint, through @service-nodeports', () => {
    const os = v4.trace(pkt({ src: outside, origin: 'external', dst: nodeIPv4, dport: 3004 }));
    expect(summary(os)).toEqual(['ACCEPT 10.180.0.20:80 masq 0.3333', 'ACCEPT 10.180.0.21:80 masq 0.3333', 'ACCEPT 10.180.0.22:80 masq 0.3333']);
    expect(os[0]!.path).toEqual(expect.arrayContaining(['services', 'external-LAUZTJTB-ns4/svc4/tcp/p80', 'mark-for-masquerade', 'service-LAUZTJTB-ns4/svc4/tcp/p80', 'filter-forward']));
  });

  it('ExternalIP from outside: masqueraded, to every endpoint', () => {
    const os = v4.trace(pkt({ src: outside, origin: 'external', dst: '192.168.99.33', dport: 80 }));
    expect(os).toHaveLength(3);
    for (const o of os) expect([o.verdict, o.masquerade]).toEqual(['ACCEPT', true]);
  });

  it('NodePorts answer on the node’s primary IP only (the default), or on the addresses --nodeport-addresses selects', () => {
    const node = { localAddresses: [nodeIPv4, '192.168.0.77'] };
    expect(summary(new NftTracer(golden('full-ipv4'), node).trace(pkt({ src: outside, origin: 'external', dst: '192.168.0.77', dport: 3004 })))).toEqual(['ACCEPT 1.0000']);
    const options = new NftTracer(golden('full-ipv4-options'), node);
    expect(summary(options.trace(pkt({ src: outside, origin: 'external', dst: '192.168.0.77', dport: 3004 })))).toHaveLength(3);
  });

  it('externalTrafficPolicy Local from outside: only the local endpoint, client IP kept (NodePort, LoadBalancer IP, ExternalIP)', () => {
    for (const [dst, dport] of [[nodeIPv4, 3001], ['1.2.3.4', 80], ['192.168.99.22', 80]] as const) {
      expect(summary(v4.trace(pkt({ src: outside, origin: 'external', dst, dport }))), `${dst}:${dport}`).toEqual(['ACCEPT 10.180.0.3:80 1.0000']);
    }
  });

  it('externalTrafficPolicy Local from a pod: short-circuits to every endpoint', () => {
    expect(summary(v4.trace(pkt({ dst: '1.2.3.4', dport: 80 })))).toEqual(['ACCEPT 10.180.0.3:80 0.5000', 'ACCEPT 10.180.0.4:80 0.5000']);
  });

  it('externalTrafficPolicy Local from the node itself: every endpoint, masqueraded', () => {
    expect(summary(v4.trace(pkt({ src: nodeIPv4, origin: 'host', dst: nodeIPv4, dport: 3001 })))).toEqual(['ACCEPT 10.180.0.3:80 masq 0.5000', 'ACCEPT 10.180.0.4:80 masq 0.5000']);
  });

  it('externalTrafficPolicy Local without a local endpoint: external traffic dropped in filter-input, pods still served', () => {
    const dropped = v4.trace(pkt({ src: outside, origin: 'external', dst: nodeIPv4, dport: 3003 }));
    expect(summary(dropped)).toEqual(['DROP 1.0000']);
    expect(dropped[0]!.path.slice(-2)).toEqual(['filter-input', 'nodeport-endpoints-check']);
    expect(summary(v4.trace(pkt({ dst: nodeIPv4, dport: 3003 })))).toEqual(['ACCEPT 10.180.0.5:80 1.0000']);
  });

  it('no endpoints at all: REJECT on the cluster IP, the NodePort and the LoadBalancer IP, also from the node', () => {
    const reject = ['REJECT icmp-port-unreachable 1.0000'];
    expect(summary(v4.trace(pkt({ dst: '172.30.0.46', dport: 80 })))).toEqual(reject);
    expect(summary(v4.trace(pkt({ src: outside, origin: 'external', dst: nodeIPv4, dport: 3006 })))).toEqual(reject);
    expect(summary(v4.trace(pkt({ src: outside, origin: 'external', dst: '9.10.11.12', dport: 80 })))).toEqual(reject);
    expect(summary(v4.trace(pkt({ src: nodeIPv4, origin: 'host', dst: '172.30.0.46', dport: 80 })))).toEqual(reject);
    expect(summary(v4.trace(pkt({ src: nodeIPv4, origin: 'host', dst: nodeIPv4, dport: 3006 })))).toEqual(reject);
  });

  it('internalTrafficPolicy Local without a local endpoint: DROP, not REJECT', () => {
    expect(summary(v4.trace(pkt({ dst: '172.30.0.47', dport: 80 })))).toEqual(['DROP 1.0000']);
  });

  it('a cluster IP on a port no Service has: REJECT (cluster-ips-check), from a pod and from the node', () => {
    expect(summary(v4.trace(pkt({ dst: '172.30.0.41', dport: 81 })))).toEqual(['REJECT icmp-port-unreachable 1.0000']);
    expect(summary(v4.trace(pkt({ src: nodeIPv4, origin: 'host', dst: '172.30.0.41', dport: 81 })))).toEqual(['REJECT icmp-port-unreachable 1.0000']);
  });

  it('loadBalancerSourceRanges: outside the ranges dropped, inside served, the LB IP itself allowed; NodePorts unfiltered', () => {
    expect(summary(v4.trace(pkt({ src: blockedClient, origin: 'external', dst: '5.6.7.8', dport: 80 })))).toEqual(['DROP 1.0000']);
    expect(summary(v4.trace(pkt({ src: allowedClient, origin: 'external', dst: '5.6.7.8', dport: 80 })))).toEqual(['ACCEPT 10.180.0.6:80 masq 0.5000', 'ACCEPT 10.180.0.7:80 masq 0.5000']);
    expect(summary(v4.trace(pkt({ src: '5.6.7.8', origin: 'external', dst: '5.6.7.8', dport: 80 })))).toHaveLength(2);
    expect(summary(v4.trace(pkt({ src: blockedClient, origin: 'external', dst: nodeIPv4, dport: 3005 })))).toEqual(['ACCEPT 10.180.0.6:80 masq 0.5000', 'ACCEPT 10.180.0.7:80 masq 0.5000']);
  });

  it('session affinity: a new client is added to the picked endpoint’s set; a known one goes back to its endpoint', () => {
    const a = 'affinity-WLGLN4N3-ns5/svc5/tcp/p80__10.180.0.6/80';
    const b = 'affinity-VP5O6E2V-ns5/svc5/tcp/p80__10.180.0.7/80';
    expect(v4.trace(pkt({ dst: '172.30.0.45', dport: 80 })).map((o) => [o.dnat, o.affinitySet])).toEqual([
      ['10.180.0.6:80', [a]],
      ['10.180.0.7:80', [b]],
    ]);
    const back = v4.trace(pkt({ dst: '172.30.0.45', dport: 80 }), { affinity: new Set([b]) });
    expect(back.map((o) => [summary([o])[0], o.affinitySet])).toEqual([['ACCEPT 10.180.0.7:80 1.0000', [b]]]);
  });

  it('terminating fallback: only the serving endpoint', () => {
    expect(summary(v4.trace(pkt({ dst: '172.30.0.48', dport: 80 })))).toEqual(['ACCEPT 10.180.0.9:80 1.0000']);
  });

  it('SCTP: matched by protocol; TCP to the same port of the cluster IP is rejected', () => {
    expect(summary(v4.trace(pkt({ protocol: 'sctp', dst: '172.30.0.49', dport: 9999 })))).toEqual(['ACCEPT 10.180.0.11:9999 1.0000']);
    expect(summary(v4.trace(pkt({ protocol: 'tcp', dst: '172.30.0.49', dport: 9999 })))).toEqual(['REJECT icmp-port-unreachable 1.0000']);
    expect(summary(v4.trace(pkt({ protocol: 'sctp', src: outside, origin: 'external', dst: nodeIPv4, dport: 3009 })))).toEqual(['ACCEPT 10.180.0.11:9999 masq 1.0000']);
  });

  it('UDP on an unnamed port', () => {
    expect(summary(v4.trace(pkt({ protocol: 'udp', dst: '172.30.0.50', dport: 53 })))).toEqual(['ACCEPT 10.180.0.12:53 1.0000']);
  });

  it('localhost never answers NodePorts', () => {
    expect(summary(v4.trace(pkt({ src: '127.0.0.1', origin: 'host', dst: '127.0.0.1', dport: 3004 })))).toEqual(['ACCEPT 1.0000']);
  });

  it('IPv6: cluster IP, NodePort with externalTrafficPolicy Local, LoadBalancer with source ranges, icmp6 reject', () => {
    expect(summary(v6.trace(pkt({ src: 'fd00:10::5', dst: 'fd00:30::41', dport: 80 })))).toEqual(['ACCEPT [fd00:180::1]:80 0.5000', 'ACCEPT [fd00:180::2]:80 0.5000']);
    expect(summary(v6.trace(pkt({ src: '2001:db8:66::1', origin: 'external', dst: '2001:db8:99::8', dport: 80 })))).toEqual(['DROP 1.0000']);
    expect(summary(v6.trace(pkt({ src: '2001:db8:77::1', origin: 'external', dst: '2001:db8:99::8', dport: 80 })))).toEqual([
      'ACCEPT [fd00:180::6]:80 masq 0.5000',
      'ACCEPT [fd00:180::7]:80 masq 0.5000',
    ]);
    expect(summary(v6.trace(pkt({ src: '2001:db8:66::1', origin: 'external', dst: nodeIPv6, dport: 3001 })))).toEqual(['ACCEPT [fd00:180::3]:80 1.0000']);
    expect(summary(v6.trace(pkt({ src: 'fd00:10::5', dst: 'fd00:30::41', dport: 81 })))).toEqual(['REJECT icmp6-port-unreachable 1.0000']);
    // The IPv4 table is not there: IPv4 packets pass untouched.
    expect(summary(v6.trace(pkt({ dst: '172.30.0.41', dport: 80 })))).toEqual(['ACCEPT 1.0000']);
  });

  it('options: --masquerade-all masquerades pod traffic too, with mark bit 5', () => {
    const t = new NftTracer(golden('full-ipv4-options'), { localAddresses: [nodeIPv4] });
    const os = t.trace(pkt({ dst: '172.30.0.41', dport: 80 }));
    expect(summary(os)).toEqual(['ACCEPT 10.180.0.1:80 masq 0.5000', 'ACCEPT 10.180.0.2:80 masq 0.5000']);
    // The masquerading chain clears its bit again.
    for (const o of os) expect(o.mark).toBe(0);
    expect(os[0]!.path).toContain('mark-for-masquerade');
  });

  it('after the partial sync golden applied on top of the full one, the new endpoint takes its share', () => {
    const t = new NftTracer([golden('full-ipv4'), golden('partial-ipv4-endpoint-change')], { localAddresses: [nodeIPv4] });
    expect(summary(t.trace(pkt({ dst: '172.30.0.41', dport: 80 })))).toEqual(['ACCEPT 10.180.0.1:80 0.3333', 'ACCEPT 10.180.0.13:80 0.3333', 'ACCEPT 10.180.0.2:80 0.3333']);
    expect(summary(t.trace(pkt({ dst: '172.30.0.48', dport: 80 })))).toEqual(['ACCEPT 10.180.0.9:80 1.0000']);
  });

  it('more endpoints than rules pick: one numgen vmap draw into endpoint chains, evenly', () => {
    const { plan } = planReplace(nodeView(fixtureState(scaleObjects(1, 20))), ['IPv4'], { clusterCIDRs });
    expect(plan.text).toContain('numgen random mod 20 vmap {');
    const os = new NftTracer(plan.text, { localAddresses: [nodeIPv4] }).trace(pkt({ dst: '172.16.0.0', dport: 80 }));
    expect(os).toHaveLength(20);
    for (const o of os) expect([o.verdict, o.probability.toFixed(4), o.dnat?.endsWith(':8080'), o.path.some((c) => c.startsWith('endpoint-'))]).toEqual(['ACCEPT', '0.0500', true, true]);
  });

  it('refuses rules it does not understand rather than guessing', () => {
    expect(() => parseRule('ip daddr 1.1.1.1 log prefix "x" accept')).toThrow(/unsupported expression "log"/);
    expect(() => parseRule('reject with tcp reset')).toThrow(/reject with/);
    const t = new NftTracer(['add table ip kpng', 'add chain ip kpng pre { type nat hook prerouting priority -100 ; }', 'add rule ip kpng pre meta skuid 0 accept', ''].join('\n'), { localAddresses: [] });
    expect(() => t.trace(pkt({ dst: '1.1.1.1', dport: 1 }))).toThrow(/meta/);
  });
});
