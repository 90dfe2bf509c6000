// Each feature of the ipvs dataplane, proven by tracing first packets through what the
// backend renders (iptables rules + ipsets + virtual servers), in both families.
import { describe, expect, it } from 'vitest';
import { nodeView, type IPFamily } from '../../model/index.ts';
import { renderFamily } from './render.ts';
import { allowedClient, blockedClient, fixtureOptions, fixtureState, nodeIPv4, nodeIPv6 } from './testing.ts';
import { IpvsTracer, type IpvsPacket } from './trace.testkit.ts';

function tracer(family: IPFamily): IpvsTracer {
  const r = renderFamily(nodeView(fixtureState()), fixtureOptions(family));
  return new IpvsTracer({ iptables: r.iptables, ipset: r.ipset, ipvsadm: r.ipvsadm, localAddresses: [family === 'IPv4' ? nodeIPv4 : nodeIPv6, ...r.plan.bind] });
}
const tcp = (src: string, dst: string, dport: number, origin: IpvsPacket['origin'] = 'pod'): IpvsPacket => ({ src, dst, dport, protocol: 'tcp', origin });
const summary = (t: IpvsTracer, p: IpvsPacket, persisted?: ReadonlyMap<string, string>) =>
  t.trace(p, persisted).map((o) => `${o.verdict}${o.by ? `(${o.by})` : ''} ${o.real ?? ''}${o.masquerade ? ' masq' : ''} ${o.probability.toFixed(3)}`.replace(/ +/g, ' ').trim());

describe('IPv4', () => {
  const t = tracer('IPv4');
  it('cluster IP: a pod reaches each endpoint with an equal share, unmasqueraded', () => {
    expect(summary(t, tcp('10.1.2.3', '172.30.0.41', 80))).toEqual(['ACCEPT 10.180.0.1:80 0.500', 'ACCEPT 10.180.0.2:80 0.500']);
  });
  it('cluster IP from outside the pod network is masqueraded', () => {
    expect(summary(t, tcp('203.0.113.9', '172.30.0.41', 80, 'external'))).toEqual(['ACCEPT 10.180.0.1:80 masq 0.500', 'ACCEPT 10.180.0.2:80 masq 0.500']);
  });
  it('a service address answers only on service ports: other ports of the host are rejected', () => {
    expect(summary(t, tcp('10.1.2.3', '172.30.0.41', 22))).toEqual(['REJECT(iptables) 1.000']);
    // The node's own address is not a service address: its ports stay reachable.
    expect(t.trace(tcp('10.1.2.3', nodeIPv4, 22))[0]).toMatchObject({ verdict: 'ACCEPT', local: true });
  });
  it('NodePort (Cluster policy): every endpoint, masqueraded; from the host too', () => {
    expect(summary(t, tcp('203.0.113.9', nodeIPv4, 3004, 'external'))).toEqual(['ACCEPT 10.180.0.20:80 masq 0.333', 'ACCEPT 10.180.0.21:80 masq 0.333', 'ACCEPT 10.180.0.22:80 masq 0.333']);
    expect(summary(t, tcp(nodeIPv4, nodeIPv4, 3004, 'host'))).toHaveLength(3);
    expect(t.trace(tcp(nodeIPv4, nodeIPv4, 3004, 'host')).every((o) => o.masquerade)).toBe(true);
  });
  it('NodePort, LoadBalancer and external IP with externalTrafficPolicy Local: the local endpoint only, client IP kept', () => {
    for (const [dst, port] of [[nodeIPv4, 3001], ['1.2.3.4', 80], ['192.168.99.22', 80]] as const) {
      expect(summary(t, tcp('203.0.113.9', dst, port, 'external')), `${dst}:${port}`).toEqual(['ACCEPT 10.180.0.3:80 1.000']);
    }
  });
  it('external IP (Cluster policy): masqueraded', () => {
    expect(t.trace(tcp('203.0.113.9', '192.168.99.33', 80, 'external')).map((o) => o.masquerade)).toEqual([true, true, true]);
  });
  it('LoadBalancer with source ranges: a client inside them gets through (masqueraded), one outside is dropped', () => {
    expect(summary(t, tcp(allowedClient, '5.6.7.8', 80, 'external'))).toEqual(['ACCEPT 10.180.0.6:80 masq 0.500', 'ACCEPT 10.180.0.7:80 masq 0.500']);
    expect(summary(t, tcp(blockedClient, '5.6.7.8', 80, 'external'))).toEqual(['DROP(iptables) 1.000']);
    // A source range holds the node IP: the node reaches the load balancer IP.
    expect(t.trace(tcp('5.6.7.8', '5.6.7.8', 80, 'host'))[0]!.verdict).toBe('ACCEPT');
  });
  it('ClientIP affinity: a persistent virtual server; a client with a template stays on its endpoint', () => {
    const first = t.trace(tcp('10.1.2.3', '172.30.0.45', 80));
    expect(first.map((o) => o.persistent)).toEqual([true, true]);
    expect(summary(t, tcp('10.1.2.3', '172.30.0.45', 80), new Map([['TCP/172.30.0.45:80', '10.180.0.7:80']]))).toEqual(['ACCEPT 10.180.0.7:80 1.000']);
  });
  it('no endpoints: REJECT on the cluster IP, the load balancer IP and the NodePort, from pods, outside and the host', () => {
    for (const p of [tcp('10.1.2.3', '172.30.0.46', 80), tcp('203.0.113.9', '9.10.11.12', 80, 'external'), tcp('203.0.113.9', nodeIPv4, 3006, 'external')]) {
      expect(t.trace(p), `${p.dst}:${p.dport} from ${p.origin}`).toMatchObject([{ verdict: 'REJECT', by: 'iptables', rejectWith: 'icmp-port-unreachable' }]);
    }
    // The host's own packets meet IPVS (LOCAL_OUT) before filter OUTPUT: IPVS refuses a virtual server without real servers itself.
    expect(t.trace(tcp(nodeIPv4, '172.30.0.46', 80, 'host'))).toMatchObject([{ verdict: 'REJECT', by: 'ipvs', rejectWith: 'icmp-port-unreachable' }]);
  });
  it('internalTrafficPolicy Local without a local endpoint: the virtual server has no real server, IPVS refuses', () => {
    expect(t.trace(tcp('10.1.2.3', '172.30.0.47', 80))).toMatchObject([{ verdict: 'REJECT', by: 'ipvs' }]);
  });
  it('hairpin: a local endpoint reaching itself through the Service is masqueraded, the other endpoint is not', () => {
    expect(summary(t, tcp('10.180.0.2', '172.30.0.41', 80))).toEqual(['ACCEPT 10.180.0.1:80 0.500', 'ACCEPT 10.180.0.2:80 masq 0.500']);
  });
  it('UDP cluster IP, and the health check node port is accepted', () => {
    expect(summary(t, { src: '10.1.2.3', dst: '172.30.0.50', dport: 53, protocol: 'udp', origin: 'pod' })).toEqual(['ACCEPT 10.180.0.12:53 1.000']);
    expect(t.trace(tcp('203.0.113.9', nodeIPv4, 30000, 'external'))[0]).toMatchObject({ verdict: 'ACCEPT', local: true });
  });
});

describe('IPv6', () => {
  const t = tracer('IPv6');
  it('cluster IP from a pod, and from outside the pod network (masqueraded)', () => {
    expect(summary(t, tcp('fd00:10::5', 'fd00:30::41', 80))).toEqual(['ACCEPT [fd00:180::1]:80 0.500', 'ACCEPT [fd00:180::2]:80 0.500']);
    expect(t.trace(tcp('2001:db8:5::1', 'fd00:30::41', 80, 'external')).every((o) => o.masquerade)).toBe(true);
  });
  it('LoadBalancer with source ranges: inside gets through, outside dropped; the node (outside them) may not reach it', () => {
    expect(summary(t, tcp('2001:db8:77::9', '2001:db8:99::8', 80, 'external'))).toHaveLength(2);
    expect(summary(t, tcp('2001:db8:78::9', '2001:db8:99::8', 80, 'external'))).toEqual(['DROP(iptables) 1.000']);
    expect(t.trace(tcp('2001:db8:99::8', '2001:db8:99::8', 80, 'host')).map((o) => o.verdict)).toEqual(['DROP', 'DROP']);
  });
  it('ETP Local LoadBalancer and NodePort: the local endpoint, client kept; other ports of service addresses rejected with icmp6', () => {
    expect(summary(t, tcp('2001:db8:5::1', '2001:db8:99::4', 80, 'external'))).toEqual(['ACCEPT [fd00:180::3]:80 1.000']);
    expect(summary(t, tcp('2001:db8:5::1', nodeIPv6, 3001, 'external'))).toEqual(['ACCEPT [fd00:180::3]:80 1.000']);
    expect(t.trace(tcp('fd00:10::5', 'fd00:30::41', 22))).toMatchObject([{ verdict: 'REJECT', rejectWith: 'icmp6-port-unreachable' }]);
  });
  it('affinity is persistence in IPv6 too', () => {
    expect(t.trace(tcp('fd00:10::5', 'fd00:30::45', 80)).every((o) => o.persistent)).toBe(true);
  });
});
