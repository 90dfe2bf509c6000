import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clusterCIDRs, fixtureState, nodeIPv4 } from '../common/testing.ts';
import { endpointRulesMax, pickEndpoint, renderFamily, type FamilyRender, type RenderOptions } from './render.ts';
import { FakeNft } from './testing.ts';
import { planReplace } from './transaction.ts';
import { nodeView } from '../../model/index.ts';

const golden = (name: string, text: string) => {
  const file = new URL(`./testdata/${name}.nft`, import.meta.url);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, text);
  expect(text, `testdata/${name}.nft differs (UPDATE_GOLDEN=1 rewrites it)`).toBe(readFileSync(file, 'utf8'));
};

const base: RenderOptions = { clusterCIDRs };
const families = (f: 'IPv4' | 'IPv6') => [f] as const;
const baseChains = ['filter-prerouting', 'filter-input', 'filter-forward', 'filter-output', 'filter-output-post-dnat', 'nat-prerouting', 'nat-output', 'nat-postrouting'];

/** Every goto/jump and @set names something declared; every declared regular chain and set is used. */
function checkReferences(r: FamilyRender): void {
  const parts = [r.global, ...r.ports.values()];
  const chains = new Set(parts.flatMap((p) => p.chains.map((c) => c.name)));
  const sets = new Set(parts.flatMap((p) => p.containers.map((c) => c.name)));
  const texts = [...parts.flatMap((p) => p.chains.flatMap((c) => c.rules)), ...parts.flatMap((p) => p.elements.map((e) => e.value))];
  const jumped = new Set(texts.flatMap((t) => [...t.matchAll(/\b(?:jump|goto) ([^\s,}]+)/g)].map((m) => m[1]!)));
  const used = new Set(texts.flatMap((t) => [...t.matchAll(/@([^\s,}]+)/g)].map((m) => m[1]!)));
  for (const c of jumped) expect(chains.has(c), `${c} is jumped to but not declared`).toBe(true);
  for (const s of used) expect(sets.has(s), `@${s} is used but not declared`).toBe(true);
  for (const p of r.ports.values()) for (const c of p.chains) expect(jumped.has(c.name), `chain ${c.name} is declared but nothing jumps to it`).toBe(true);
  for (const c of parts.flatMap((p) => p.chains)) if (c.name !== 'cluster-ips-check' && c.name !== 'mark-for-masquerade') expect(c.rules.length, `chain ${c.name} is empty`).toBeGreaterThan(0);
  for (const p of parts) for (const e of p.elements) expect(sets.has(e.container), `element of undeclared ${e.container}`).toBe(true);
  // Every element's container is a set or map of ours; the affinity sets are used by their chains.
  for (const s of sets) if (s.startsWith('affinity-')) expect(used.has(s), `${s} is declared but unused`).toBe(true);
}

describe('full ruleset', () => {
  it('IPv4: ClusterIP, NodePort, ExternalIP, LoadBalancer + source ranges, affinity, traffic policies, no endpoints, terminating fallback, SCTP', () => {
    const { plan } = planReplace(nodeView(fixtureState()), families('IPv4'), base);
    golden('full-ipv4', plan.text);
    const r = renderFamily(nodeView(fixtureState()), 'IPv4', base);
    checkReferences(r);
    expect(r.ports.size).toBe(10);
    // The kernel model takes it, and the table holds what the renderer meant.
    const k = new FakeNft();
    k.apply(plan.text);
    expect([...k.table('ip')!.chains.keys()].filter((c) => baseChains.includes(c))).toEqual(baseChains);
    expect(k.table('ip')!.sets.get('service-ips')!.elements.size).toBe(12);
    expect(k.table('ip6')).toBeUndefined();
  });

  it('IPv6: only IPv6 frontends and endpoints, in the ip6 table', () => {
    const { plan } = planReplace(nodeView(fixtureState()), families('IPv6'), base);
    golden('full-ipv6', plan.text);
    checkReferences(renderFamily(nodeView(fixtureState()), 'IPv6', base));
    expect(plan.text).not.toMatch(/\b\d+\.\d+\.\d+\.\d+\b/);
    expect(plan.text).not.toMatch(/ ip kpng /);
    expect(plan.text).toContain('add rule ip6 kpng services ip6 daddr . meta l4proto . th dport vmap @service-ips');
    expect(plan.text).toContain('dnat to [fd00:180::1]:80');
    expect(renderFamily(nodeView(fixtureState()), 'IPv6', base).ports.size).toBe(4);
  });

  it('options: --masquerade-all, --nodeport-addresses CIDRs (loopback never answers), tcp_be_liberal, another mark bit', () => {
    const o: RenderOptions = {
      masqueradeAll: true,
      nodePortAddresses: ['192.168.0.0/24', '127.0.0.0/8', 'fd00::/8'],
      localAddresses: [nodeIPv4, '127.0.0.1', '10.1.1.1', '2001:db8::2', '192.168.0.77'],
      conntrackTCPLiberal: true,
      masqueradeBit: 5,
    };
    const { plan } = planReplace(nodeView(fixtureState()), families('IPv4'), o);
    golden('full-ipv4-options', plan.text);
    checkReferences(renderFamily(nodeView(fixtureState()), 'IPv4', o));
    expect(plan.text).toContain('add element ip kpng nodeport-ips { 192.168.0.2, 192.168.0.77 }');
    expect(plan.text).not.toContain('ct state invalid drop');
    expect(plan.text).toContain('mark set mark or 0x20');
    expect(plan.text).toContain('add rule ip kpng service-ULMVA6XW-ns1/svc1/tcp/p80 ip daddr 172.30.0.41 tcp dport 80 jump mark-for-masquerade');
  });

  it('NodePorts on every local address but loopback with a /0; on the primary IPs by default', () => {
    const all = renderFamily(nodeView(fixtureState()), 'IPv4', { nodePortAddresses: ['0.0.0.0/0'] });
    expect(all.global.chains.find((c) => c.name === 'services')!.rules[1]).toBe('fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports');
    expect(all.global.containers.map((c) => c.name)).not.toContain('nodeport-ips');
    checkReferences(all);
    const primary = renderFamily(nodeView(fixtureState()), 'IPv4', {});
    expect(primary.global.elements).toEqual([{ container: 'nodeport-ips', key: nodeIPv4, value: '' }]);
    expect(primary.global.chains.find((c) => c.name === 'services')!.rules[1]).toBe('ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports');
  });

  it('no --cluster-cidr and no --masquerade-all: no off-cluster masquerade rule, no pod short circuit', () => {
    const { plan } = planReplace(nodeView(fixtureState()), families('IPv4'), {});
    expect(plan.text).not.toMatch(/daddr 172\.30\.0\.\d+ tcp dport 80 .*jump mark-for-masquerade/);
    expect(plan.text).not.toContain('short-circuit pod traffic');
    expect(plan.text).toContain('fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"');
    checkReferences(renderFamily(nodeView(fixtureState()), 'IPv4', {}));
  });

  it('a service port without a cluster IP of the family has nothing in that family', () => {
    const view = nodeView(fixtureState());
    expect(view.families.IPv4.servicePorts.has('ns10/svc10')).toBe(true);
    expect(view.families.IPv6.servicePorts.has('ns10/svc10')).toBe(false);
    expect(renderFamily(view, 'IPv6', {}).ports.has('ns10/svc10')).toBe(false);
  });
});

describe('picking an endpoint', () => {
  it('rule i of n goes with probability 1/(n-i): every endpoint is picked with probability 1/n', () => {
    for (let n = 1; n <= endpointRulesMax; n++) {
      const rules = pickEndpoint(Array.from({ length: n }, (_, i) => `dnat to 10.0.0.${i}:80`));
      expect(rules).toHaveLength(n);
      let reach = 1; // probability that rule i is reached
      rules.forEach((r, i) => {
        const m = /^(?:numgen random mod (\d+) 0 )?dnat to 10\.0\.0\.(\d+):80$/.exec(r)!;
        expect(Number(m[2])).toBe(i);
        const p = m[1] === undefined ? 1 : 1 / Number(m[1]);
        expect(reach * p).toBeCloseTo(1 / n, 12);
        reach *= 1 - p;
      });
      expect(reach).toBeCloseTo(0, 12);
    }
  });

  it(`more than ${endpointRulesMax} endpoints: one draw through an anonymous verdict map to endpoint chains`, () => {
    const targets = Array.from({ length: endpointRulesMax + 1 }, (_, i) => `goto ep${i}`);
    expect(pickEndpoint(targets)).toEqual([`numgen random mod ${targets.length} vmap { ${targets.map((t, i) => `${i} : ${t}`).join(', ')} }`]);
  });

  it('a service chain DNATs by itself; an endpoint reaching itself is masqueraded through @hairpin-endpoints', () => {
    const r = renderFamily(nodeView(fixtureState()), 'IPv4', base);
    const svc5 = r.ports.get('ns5/svc5:p80')!;
    expect(svc5.chains.map((c) => c.name)).toEqual(['service-HVFWP5L3-ns5/svc5/tcp/p80', 'external-HVFWP5L3-ns5/svc5/tcp/p80', 'firewall-HVFWP5L3-ns5/svc5/tcp/p80']);
    expect(svc5.chains[0]!.rules.slice(1)).toEqual([
      'ip saddr @affinity-WLGLN4N3-ns5/svc5/tcp/p80__10.180.0.6/80 meta l4proto tcp update @affinity-WLGLN4N3-ns5/svc5/tcp/p80__10.180.0.6/80 { ip saddr } dnat to 10.180.0.6:80',
      'ip saddr @affinity-VP5O6E2V-ns5/svc5/tcp/p80__10.180.0.7/80 meta l4proto tcp update @affinity-VP5O6E2V-ns5/svc5/tcp/p80__10.180.0.7/80 { ip saddr } dnat to 10.180.0.7:80',
      'numgen random mod 2 0 meta l4proto tcp update @affinity-WLGLN4N3-ns5/svc5/tcp/p80__10.180.0.6/80 { ip saddr } dnat to 10.180.0.6:80',
      'meta l4proto tcp update @affinity-VP5O6E2V-ns5/svc5/tcp/p80__10.180.0.7/80 { ip saddr } dnat to 10.180.0.7:80',
    ]);
    expect(svc5.elements.filter((e) => e.container === 'hairpin-endpoints').map((e) => e.key)).toEqual(['10.180.0.6 . 10.180.0.6', '10.180.0.7 . 10.180.0.7']);
    expect(r.global.chains.find((c) => c.name === 'masquerading')!.rules[0]).toBe('ip saddr . ip daddr @hairpin-endpoints mark set mark or 0x4000');
  });
});
