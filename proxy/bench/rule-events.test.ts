import { describe, expect, it } from 'vitest';
import { addsEndpointRule } from './rule-events.ts';

// Lines as nft 1.0.6's `nft monitor new rules` prints them.
describe('bench:vs-kube-proxy rule events', () => {
  const kpng = { table: 'kpng', dnatTo: '10.64.1.2:8080' };
  it('finds the DNAT to the new endpoint in a rule of the proxy table', () => {
    expect(addsEndpointRule('add rule ip kpng service-X-ns/svc/tcp/http numgen random mod 2 0 meta l4proto tcp dnat to 10.64.1.2:8080', kpng)).toBe(true);
    expect(addsEndpointRule('add rule ip kpng service-X-ns/svc/tcp/http meta l4proto tcp dnat to 10.64.1.2:8080', kpng)).toBe(true);
    expect(addsEndpointRule('add rule ip kube-proxy endpoint-Y-ns/svc/tcp/http__10.64.1.2/8080 meta l4proto tcp dnat to 10.64.1.2:8080', { table: 'kube-proxy', dnatTo: '10.64.1.2:8080' })).toBe(true);
  });
  it('ignores other endpoints, other tables, other objects and other rules naming the address', () => {
    expect(addsEndpointRule('add rule ip kpng service-X meta l4proto tcp dnat to 10.64.1.22:8080', kpng)).toBe(false);
    expect(addsEndpointRule('add rule ip kpng service-X meta l4proto tcp dnat to 10.64.1.2:80801', kpng)).toBe(false);
    expect(addsEndpointRule('add rule ip kube-proxy endpoint-Y meta l4proto tcp dnat to 10.64.1.2:8080', kpng)).toBe(false);
    expect(addsEndpointRule('add rule ip6 kpng service-X meta l4proto tcp dnat to 10.64.1.2:8080', kpng)).toBe(false);
    expect(addsEndpointRule('add element ip kpng hairpin-endpoints { 10.64.1.2 . 10.64.1.2 }', kpng)).toBe(false);
    expect(addsEndpointRule('add rule ip kube-proxy endpoint-Y ip saddr 10.64.1.2 jump mark-for-masquerade', { table: 'kube-proxy', dnatTo: '10.64.1.2:8080' })).toBe(false);
  });
  it('iptables-nft: any rule added to the endpoint chain', () => {
    const sep = { table: 'nat', chain: 'KUBE-SEP-ABCDEF' };
    expect(addsEndpointRule('add rule ip nat KUBE-SEP-ABCDEF meta l4proto tcp  counter packets 0 bytes 0 dnat to 10.64.1.9:8080', sep)).toBe(true);
    expect(addsEndpointRule('add rule ip nat KUBE-SEP-ABCDEFG meta l4proto tcp  counter packets 0 bytes 0 dnat to 10.64.1.9:8080', sep)).toBe(false);
    expect(addsEndpointRule('add rule ip filter KUBE-SEP-ABCDEF counter', sep)).toBe(false);
  });
});
