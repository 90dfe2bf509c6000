import { describe, expect, it } from 'vitest';
import { localChanges } from '../../model/index.ts';
import { renderIptables } from './render.ts';
import { Ruleset } from './rules.ts';
import { servicePortEndpointChainName } from './names.ts';
import { allowedClient, blockedClient, clusterCIDRs, fixtureObjectsAfterEndpointChange, fixtureState, nodeIPv4, nodeIPv6 } from './testing.ts';
import { Tracer, type Outcome, type Packet } from './trace.testkit.ts';
import { nodeView } from '../../model/index.ts';

const state = fixtureState();
const v4 = new Tracer(renderIptables(nodeView(state), { family: 'IPv4', clusterCIDRs }).text, { localAddresses: [nodeIPv4] });
const v6 = new Tracer(renderIptables(nodeView(state), { family: 'IPv6', clusterCIDRs }).text, { localAddresses: [nodeIPv6] });

const pod = '10.0.1.5';
const outside = '198.51.100.7';
const pkt = (p: Partial<Packet> & Pick<Packet, 'dst' | 'dport'>): Packet => ({ src: pod, protocol: 'tcp', origin: 'pod', ...p });
/** Outcomes as "verdict dnat masq probability" lines, for readable comparisons. */
const summary = (os: Outcome[]) => os.map((o) => `${o.verdict}${o.dnat ? ` ${o.dnat}` : ''}${o.masquerade ? ' masq' : ''}${o.rejectWith ? ` ${o.rejectWith}` : ''} ${o.probability.toFixed(4)}`);

describe('packet tracer over the rendered rules', () => {
  it('ClusterIP from a pod: every endpoint, evenly, no masquerade', () => {
    expect(summary(v4.trace(pkt({ dst: '172.30.0.41', dport: 80 })))).toEqual(['ACCEPT 10.180.0.1:80 0.5000', 'ACCEPT 10.180.0.2:80 0.5000']);
  });

  it('ClusterIP from off-cluster: masqueraded (the local-traffic detector)', () => {
    expect(summary(v4.trace(pkt({ src: outside, origin: 'external', dst: '172.30.0.41', dport: 80 })))).toEqual([
      'ACCEPT 10.180.0.1:80 masq 0.5000',
      'ACCEPT 10.180.0.2:80 masq 0.5000',
    ]);
  });

  it('hairpin: an endpoint reaching itself through its Service is masqueraded', () => {
    const os = v4.trace(pkt({ src: '10.180.0.1', dst: '172.30.0.41', dport: 80 }));
    expect(summary(os)).toEqual(['ACCEPT 10.180.0.1:80 masq 0.5000', 'ACCEPT 10.180.0.2:80 0.5000']);
  });

  it('three endpoints: 1/3 each through probabilities 1/3 and 1/2', () => {
    expect(summary(v4.trace(pkt({ dst: '172.30.0.44', dport: 80 })))).toEqual(['ACCEPT 10.180.0.20:80 0.3333', 'ACCEPT 10.180.0.21:80 0.3333', 'ACCEPT 10.180.0.22:80 0.3333']);
  });

  it('NodePort from outside (externalTrafficPolicy Cluster): masqueraded, to every endpoint', () => {
    const os = v4.trace(pkt({ src: outside, origin: 'external', dst: nodeIPv4, dport: 3004 }));
    expect(summary(os)).toEqual(['ACCEPT 10.180.0.20:80 masq 0.3333', 'ACCEPT 10.180.0.21:80 masq 0.3333', 'ACCEPT 10.180.0.22:80 masq 0.3333']);
    expect(os[0]!.path).toEqual(expect.arrayContaining(['nat/KUBE-SERVICES', 'nat/KUBE-NODEPORTS', 'nat/KUBE-EXT-4SW47YFZTEDKD3PK', 'filter/KUBE-FORWARD']));
  });

  it('ExternalIP from outside: masqueraded, to every endpoint', () => {
    expect(summary(v4.trace(pkt({ src: outside, origin: 'external', dst: '192.168.99.33', dport: 80 })))).toHaveLength(3);
    for (const o of v4.trace(pkt({ src: outside, origin: 'external', dst: '192.168.99.33', dport: 80 }))) expect(o.masquerade).toBe(true);
  });

  it('NodePort is not answered on an address that is not the node’s', () => {
    expect(summary(v4.trace(pkt({ src: outside, origin: 'external', dst: '192.168.0.77', dport: 3004 })))).toEqual(['ACCEPT 1.0000']);
  });

  it('externalTrafficPolicy Local from outside: only the local endpoint, client IP kept', () => {
    expect(summary(v4.trace(pkt({ src: outside, origin: 'external', dst: nodeIPv4, dport: 3001 })))).toEqual(['ACCEPT 10.180.0.3:80 1.0000']);
    expect(summary(v4.trace(pkt({ src: outside, origin: 'external', dst: '1.2.3.4', dport: 80 })))).toEqual(['ACCEPT 10.180.0.3:80 1.0000']);
    expect(summary(v4.trace(pkt({ src: outside, origin: 'external', dst: '192.168.99.22', dport: 80 })))).toEqual(['ACCEPT 10.180.0.3:80 1.0000']);
  });

  it('externalTrafficPolicy Local from a pod: short-circuits to every endpoint', () => {
    expect(summary(v4.trace(pkt({ dst: '1.2.3.4', dport: 80 })))).toEqual(['ACCEPT 10.180.0.3:80 0.5000', 'ACCEPT 10.180.0.4:80 0.5000']);
  });

  it('externalTrafficPolicy Local from the node itself: every endpoint, masqueraded', () => {
    expect(summary(v4.trace(pkt({ src: nodeIPv4, origin: 'host', dst: nodeIPv4, dport: 3001 })))).toEqual(['ACCEPT 10.180.0.3:80 masq 0.5000', 'ACCEPT 10.180.0.4:80 masq 0.5000']);
  });

  it('externalTrafficPolicy Local without a local endpoint: external traffic dropped, pods still served', () => {
    expect(summary(v4.trace(pkt({ src: outside, origin: 'external', dst: nodeIPv4, dport: 3003 })))).toEqual(['DROP 1.0000']);
    expect(summary(v4.trace(pkt({ dst: nodeIPv4, dport: 3003 })))).toEqual(['ACCEPT 10.180.0.5:80 1.0000']);
  });

  it('no endpoints at all: REJECT on the cluster IP, the NodePort and the LoadBalancer IP', () => {
    expect(summary(v4.trace(pkt({ dst: '172.30.0.46', dport: 80 })))).toEqual(['REJECT icmp-port-unreachable 1.0000']);
    expect(summary(v4.trace(pkt({ src: outside, origin: 'external', dst: nodeIPv4, dport: 3006 })))).toEqual(['REJECT icmp-port-unreachable 1.0000']);
    expect(summary(v4.trace(pkt({ src: outside, origin: 'external', dst: '9.10.11.12', dport: 80 })))).toEqual(['REJECT icmp-port-unreachable 1.0000']);
    expect(summary(v4.trace(pkt({ src: nodeIPv4, origin: 'host', dst: '172.30.0.46', dport: 80 })))).toEqual(['REJECT icmp-port-unreachable 1.0000']);
  });

  it('internalTrafficPolicy Local without a local endpoint: DROP, not REJECT', () => {
    expect(summary(v4.trace(pkt({ dst: '172.30.0.47', dport: 80 })))).toEqual(['DROP 1.0000']);
  });

  it('loadBalancerSourceRanges: outside the ranges dropped, inside served, the node itself allowed; NodePorts unfiltered', () => {
    expect(summary(v4.trace(pkt({ src: blockedClient, origin: 'external', dst: '5.6.7.8', dport: 80 })))).toEqual(['DROP 1.0000']);
    expect(summary(v4.trace(pkt({ src: allowedClient, origin: 'external', dst: '5.6.7.8', dport: 80 })))).toEqual(['ACCEPT 10.180.0.6:80 masq 0.5000', 'ACCEPT 10.180.0.7:80 masq 0.5000']);
    expect(summary(v4.trace(pkt({ src: '5.6.7.8', origin: 'external', dst: '5.6.7.8', dport: 80 })))).toHaveLength(2);
    expect(summary(v4.trace(pkt({ src: blockedClient, origin: 'external', dst: nodeIPv4, dport: 3005 })))).toEqual(['ACCEPT 10.180.0.6:80 masq 0.5000', 'ACCEPT 10.180.0.7:80 masq 0.5000']);
  });

  it('session affinity: a new client is remembered; a known one goes back to its endpoint', () => {
    const a = servicePortEndpointChainName('ns5/svc5:p80', 'TCP', '10.180.0.6:80');
    const b = servicePortEndpointChainName('ns5/svc5:p80', 'TCP', '10.180.0.7:80');
    const fresh = v4.trace(pkt({ dst: '172.30.0.45', dport: 80 }));
    expect(fresh.map((o) => [o.dnat, o.recentSet])).toEqual([
      ['10.180.0.6:80', [a]],
      ['10.180.0.7:80', [b]],
    ]);
    expect(summary(v4.trace(pkt({ dst: '172.30.0.45', dport: 80 }), { recent: new Set([b]) }))).toEqual(['ACCEPT 10.180.0.7:80 1.0000']);
  });

  it('terminating fallback: only the serving endpoint', () => {
    expect(summary(v4.trace(pkt({ dst: '172.30.0.48', dport: 80 })))).toEqual(['ACCEPT 10.180.0.9:80 1.0000']);
  });

  it('SCTP: matched by protocol; TCP to the same port is not a Service', () => {
    expect(summary(v4.trace(pkt({ protocol: 'sctp', dst: '172.30.0.49', dport: 9999 })))).toEqual(['ACCEPT 10.180.0.11:9999 1.0000']);
    expect(summary(v4.trace(pkt({ protocol: 'tcp', dst: '172.30.0.49', dport: 9999 })))).toEqual(['ACCEPT 1.0000']);
    expect(summary(v4.trace(pkt({ protocol: 'sctp', src: outside, origin: 'external', dst: nodeIPv4, dport: 3009 })))).toEqual(['ACCEPT 10.180.0.11:9999 masq 1.0000']);
  });

  it('UDP on an unnamed port', () => {
    expect(summary(v4.trace(pkt({ protocol: 'udp', dst: '172.30.0.50', dport: 53 })))).toEqual(['ACCEPT 10.180.0.12:53 1.0000']);
  });

  it('localhost NodePorts answer (IPv4) unless turned off', () => {
    expect(summary(v4.trace(pkt({ src: '127.0.0.1', origin: 'host', dst: '127.0.0.1', dport: 3004 })))).toHaveLength(3);
    const off = new Tracer(renderIptables(nodeView(state), { family: 'IPv4', clusterCIDRs, localhostNodePorts: false }).text, { localAddresses: [nodeIPv4] });
    expect(summary(off.trace(pkt({ src: '127.0.0.1', origin: 'host', dst: '127.0.0.1', dport: 3004 })))).toEqual(['ACCEPT 1.0000']);
  });

  it('IPv6: cluster IP, LoadBalancer with source ranges, icmp6 reject is not needed', () => {
    expect(summary(v6.trace(pkt({ src: 'fd00:10::5', dst: 'fd00:30::41', dport: 80 })))).toEqual(['ACCEPT [fd00:180::1]:80 0.5000', 'ACCEPT [fd00:180::2]:80 0.5000']);
    expect(summary(v6.trace(pkt({ src: '2001:db8:66::1', origin: 'external', dst: '2001:db8:99::8', dport: 80 })))).toEqual(['DROP 1.0000']);
    expect(summary(v6.trace(pkt({ src: '2001:db8:77::1', origin: 'external', dst: '2001:db8:99::8', dport: 80 })))).toHaveLength(2);
    expect(summary(v6.trace(pkt({ src: '2001:db8:66::1', origin: 'external', dst: nodeIPv6, dport: 3001 })))).toEqual(['ACCEPT [fd00:180::3]:80 1.0000']);
  });

  it('after a partial sync applied on top of the full one, the new endpoint takes its share', () => {
    const first = renderIptables(nodeView(state), { family: 'IPv4', clusterCIDRs });
    const after = fixtureState(fixtureObjectsAfterEndpointChange());
    const partial = renderIptables(nodeView(after), { family: 'IPv4', clusterCIDRs, partial: { changed: localChanges(state, after).servicePorts, previous: first.record } });
    const kernel = new Ruleset().apply(first.text).apply(partial.text);
    const t = new Tracer(kernel, { localAddresses: [nodeIPv4] });
    expect(summary(t.trace(pkt({ dst: '172.30.0.41', dport: 80 })))).toEqual(['ACCEPT 10.180.0.1:80 0.3333', 'ACCEPT 10.180.0.13:80 0.3333', 'ACCEPT 10.180.0.2:80 0.3333']);
    // Untouched Services still work through the chains left in place.
    expect(summary(t.trace(pkt({ dst: '172.30.0.48', dport: 80 })))).toEqual(['ACCEPT 10.180.0.9:80 1.0000']);
  });

  it('refuses rules it does not understand rather than guessing', () => {
    const t = new Tracer(['*nat', ':KUBE-X - [0:0]', '-A PREROUTING -m bogus --thing 1 -j KUBE-X', '-A KUBE-X -j RETURN', 'COMMIT', ''].join('\n'), { localAddresses: [] });
    expect(() => t.trace(pkt({ dst: '1.1.1.1', dport: 1 }))).toThrow(/bogus/);
  });
});
