import { describe, expect, it } from 'vitest';
import { localStateOf, node, service, slice } from '../../model/testing.ts';
import { fixtureState } from '../common/testing.ts';
import { nodeView } from '../../model/index.ts';
import { expectedCounts, fullTransaction, nodePortIPs, partialTransaction, renderExternal } from './external.ts';

const lines = (text: string) => text.trim().split('\n');

describe('table inet kpng-ebpf', () => {
  it('lays out every external frontend of the shared fixture, and only external ones (no cluster IP appears)', () => {
    const { text } = fullTransaction(renderExternal(nodeView(fixtureState()), { families: ['IPv4', 'IPv6'] }));
    expect(lines(text).slice(0, 3)).toEqual(['add table inet kpng-ebpf', 'delete table inet kpng-ebpf', expect.stringMatching(/^add table inet kpng-ebpf \{ comment /)]);
    expect(text).not.toMatch(/172\.30\.0\.4\d \./);
    expect(text).toMatch(/^add element inet kpng-ebpf external4 \{ 192\.168\.99\.22 \. tcp \. 80 : goto ext4-\S+ \}$/m);
    expect(text).toMatch(/^add element inet kpng-ebpf nodeports4 \{ tcp \. 3004 : goto ext4-\S+ \}$/m);
  });

  it('externalTrafficPolicy: Cluster marks for masquerade, Local does not; Local without a local endpoint drops; no endpoint at all is refused', () => {
    const s = localStateOf([
      node('node-a', { addresses: ['192.168.60.1'] }),
      service('c', { type: 'NodePort', clusterIPs: ['10.96.0.1'], ports: [{ port: 80, nodePort: 30001 }] }),
      slice('c', 'c', [{ ip: '10.1.0.1', node: 'node-b' }]),
      service('l', { type: 'NodePort', etp: 'Local', clusterIPs: ['10.96.0.2'], ports: [{ port: 80, nodePort: 30002 }] }),
      slice('l', 'l', [{ ip: '10.1.0.2', node: 'node-a' }, { ip: '10.1.0.3', node: 'node-b' }]),
      service('n', { type: 'NodePort', etp: 'Local', clusterIPs: ['10.96.0.3'], ports: [{ port: 80, nodePort: 30003 }] }),
      slice('n', 'n', [{ ip: '10.1.0.4', node: 'node-b' }]),
      service('e', { type: 'NodePort', clusterIPs: ['10.96.0.4'], ports: [{ port: 80, nodePort: 30004 }] }),
    ]);
    const image = renderExternal(nodeView(s), { families: ['IPv4'] });
    const chains = (key: string) => [...image.ports.get(key)!.chains.values()];
    expect(chains('default/c')).toEqual([['meta mark set meta mark or 0x4000', 'meta l4proto tcp dnat ip to 10.1.0.1:8080']]);
    expect(chains('default/l')).toEqual([['meta l4proto tcp dnat ip to 10.1.0.2:8080']]);
    expect([...image.ports.get('default/n')!.elements]).toEqual([['nodeports4\ttcp . 30003', ' : drop']]);
    expect([...image.ports.get('default/e')!.elements]).toEqual([['no-endpoint-nodeports4\ttcp . 30004', ' : goto refuse']]);
  });

  it('source ranges: host bits cleared, nested ranges merged, the LB IPs admitted as sources when a range holds a node IP; the output hook gets the frontend', () => {
    const s = localStateOf([
      node('node-a', { addresses: ['192.168.60.1'] }),
      service('lb', { type: 'LoadBalancer', clusterIPs: ['10.96.0.1'], ports: [{ port: 80, nodePort: 30001 }], lbIngress: [{ ip: '203.0.113.1' }], sourceRanges: ['192.168.60.7/24', '192.168.60.128/25', '10.0.0.0/8'] }),
      slice('lb', 'lb', [{ ip: '10.1.0.1', node: 'node-a' }]),
    ]);
    const el = [...renderExternal(nodeView(s), { families: ['IPv4'] }).ports.get('default/lb')!.elements.keys()];
    expect(el.filter((k) => k.startsWith('allowed4')).sort()).toEqual(['allowed4\t203.0.113.1 . tcp . 80 . 10.0.0.0/8', 'allowed4\t203.0.113.1 . tcp . 80 . 192.168.60.0/24', 'allowed4\t203.0.113.1 . tcp . 80 . 203.0.113.1']);
    expect(el).toContain('firewall4\t203.0.113.1 . tcp . 80');
    expect(el).toContain('local4\t203.0.113.1 . tcp . 80');
  });

  it('--nodeport-addresses: CIDRs pick the host addresses inside them (the socket hooks get the same list); a /0 answers on every local address', () => {
    const s = fixtureState();
    const o = { families: ['IPv4'] as const, nodePortAddresses: ['192.168.7.0/24'], localAddresses: ['192.168.7.5', '10.0.0.9', '127.0.0.1'] };
    const image = renderExternal(nodeView(s), o);
    expect(image.skeleton).toContain('add element inet kpng-ebpf node-port-ips4 { 192.168.7.5 }');
    expect(nodePortIPs(image.ctx, 'IPv4', o.localAddresses)).toEqual(['192.168.7.5']);
    const all = renderExternal(nodeView(s), { ...o, nodePortAddresses: ['0.0.0.0/0'] });
    expect(all.skeleton.join('\n')).toMatch(/nat-prerouting fib daddr type local ip daddr != 127\.0\.0\.0\/8 meta l4proto \. th dport vmap @nodeports4/);
    expect(nodePortIPs(all.ctx, 'IPv4', o.localAddresses)).toEqual(['10.0.0.9', '192.168.7.5']);
  });

  it('a partial transaction: nothing for an unchanged port, only the changed chain for an endpoint change, and a frontend two ports claim stays with its first owner', () => {
    const before = renderExternal(nodeView(fixtureState()), { families: ['IPv4', 'IPv6'] });
    const { owners } = fullTransaction(before);
    const keys = [...before.ports.keys()];
    expect(partialTransaction(before.ports, before.ports, keys, owners).text).toBe('');
    const withEndpoints = (ips: string[]) =>
      localStateOf([node('node-a', { addresses: ['192.168.60.1'] }), service('np', { type: 'NodePort', clusterIPs: ['10.96.0.1'], ports: [{ port: 80, nodePort: 30001 }] }), slice('np', 'np', ips.map((ip) => ({ ip, node: 'node-b' })))]);
    const e1 = renderExternal(nodeView(withEndpoints(['10.1.0.1'])), { families: ['IPv4'] });
    const e2 = renderExternal(nodeView(withEndpoints(['10.1.0.1', '10.1.0.2'])), { families: ['IPv4'] });
    const changed = partialTransaction(e1.ports, e2.ports, ['default/np'], fullTransaction(e1).owners).text;
    expect(lines(changed)).toEqual([
      expect.stringMatching(/^add chain inet kpng-ebpf ext4-\S+-default\/np\/$/),
      expect.stringMatching(/^flush chain inet kpng-ebpf ext4-/),
      expect.stringMatching(/^add rule .* meta mark set meta mark or 0x4000$/),
      expect.stringMatching(/^add rule .* numgen random mod 2 0 meta l4proto tcp dnat ip to 10\.1\.0\.1:8080$/),
      expect.stringMatching(/^add rule .* meta l4proto tcp dnat ip to 10\.1\.0\.2:8080$/),
    ]);

    // The model leaves out one of two Services claiming a frontend; a state from elsewhere may not.
    const twice = (first: string) => {
      const st = localStateOf([
        node('node-a', { addresses: ['192.168.60.1'] }),
        service('a', { clusterIPs: ['10.96.0.1'], externalIPs: [first] }),
        service('b', { clusterIPs: ['10.96.0.2'], externalIPs: ['198.51.100.3'] }),
        slice('a', 'a', [{ ip: '10.1.0.1', node: 'node-a' }]),
        slice('b', 'b', [{ ip: '10.1.0.2', node: 'node-a' }]),
      ]);
      return { ...st, servicePorts: new Map([...st.servicePorts, ['default/b', { ...st.servicePorts.get('default/b')!, externalIPs: ['198.51.100.1'] }]]) };
    };
    const one = renderExternal(nodeView(twice('198.51.100.1')), { families: ['IPv4'] });
    const full = fullTransaction(one);
    expect(full.owners.get('external4\t198.51.100.1 . tcp . 80')).toBe('default/a');
    expect(full.text.match(/198\.51\.100\.1 /g)).toHaveLength(1);
    const two = renderExternal(nodeView(twice('198.51.100.2')), { families: ['IPv4'] });
    const tx = partialTransaction(one.ports, two.ports, ['default/a'], full.owners);
    expect(lines(tx.text)).toEqual(['delete element inet kpng-ebpf external4 { 198.51.100.1 . tcp . 80 }', expect.stringMatching(/^add element inet kpng-ebpf external4 \{ 198\.51\.100\.2 \. tcp \. 80 : goto ext4-/)]);
  });

  it('ClientIP affinity: a set per endpoint with the Service\'s timeout, looked up before the pick, refreshed by each DNAT (IPv4 and IPv6)', () => {
    const s = localStateOf([
      node('node-a', { addresses: ['192.168.60.1', 'fd00:60::1'] }),
      service('a', { type: 'NodePort', affinity: 2, clusterIPs: ['10.96.0.1', 'fd00:96::1'], ports: [{ port: 80, nodePort: 30001 }] }),
      slice('a', 'a', [{ ip: '10.1.0.1', node: 'node-b' }, { ip: '10.1.0.2', node: 'node-b' }]),
      slice('a6', 'a', [{ ip: 'fd00:1::1', node: 'node-b' }], { addressType: 'IPv6' }),
    ]);
    const { text } = fullTransaction(renderExternal(nodeView(s), { families: ['IPv4', 'IPv6'] }));
    const set1 = /^add set inet kpng-ebpf (aff4-[A-Z2-7]{8}-default\/a\/__10\.1\.0\.1\/8080) \{ type ipv4_addr ; flags dynamic,timeout ; timeout 2s ; \}$/m.exec(text)?.[1];
    const set2 = /^add set inet kpng-ebpf (aff4-[A-Z2-7]{8}-default\/a\/__10\.1\.0\.2\/8080) \{/m.exec(text)?.[1];
    const set6 = /^add set inet kpng-ebpf (aff6-[A-Z2-7]{8}-default\/a\/__fd00_1__1\/8080) \{ type ipv6_addr ; flags dynamic,timeout ; timeout 2s ; \}$/m.exec(text)?.[1];
    expect([set1, set2, set6].every(Boolean)).toBe(true);
    const rules = (chain: string) => text.split('\n').filter((l) => l.startsWith(`add rule inet kpng-ebpf ${chain} `)).map((l) => l.slice(`add rule inet kpng-ebpf ${chain} `.length));
    const ext4 = /^add chain inet kpng-ebpf (ext4-\S+)$/m.exec(text)![1]!;
    const ext6 = /^add chain inet kpng-ebpf (ext6-\S+)$/m.exec(text)![1]!;
    const to = (set: string, ep: string) => `meta l4proto tcp update @${set} { ip saddr } dnat ip to ${ep}:8080`;
    expect(rules(ext4)).toEqual([
      'meta mark set meta mark or 0x4000',
      `ip saddr @${set1} ${to(set1!, '10.1.0.1')}`,
      `ip saddr @${set2} ${to(set2!, '10.1.0.2')}`,
      `numgen random mod 2 0 ${to(set1!, '10.1.0.1')}`,
      to(set2!, '10.1.0.2'),
    ]);
    expect(rules(ext6)).toEqual(['meta mark set meta mark or 0x4000', `ip6 saddr @${set6} meta l4proto tcp update @${set6} { ip6 saddr } dnat ip6 to [fd00:1::1]:8080`, `meta l4proto tcp update @${set6} { ip6 saddr } dnat ip6 to [fd00:1::1]:8080`]);
    // The sets come before the chains naming them; the kernel fills them, so the tamper check counts no elements in them.
    expect(text.indexOf(`add set inet kpng-ebpf ${set1}`)).toBeLessThan(text.indexOf(`add chain inet kpng-ebpf ${ext4}`));
    const image = renderExternal(nodeView(s), { families: ['IPv4', 'IPv6'] });
    expect(expectedCounts(image.skeleton, image.ports, fullTransaction(image).owners).elements.has(set1!)).toBe(false);
  });

  it('affinity in a partial sync: only the changed port\'s chain and sets (a set added before, one gone deleted after the chain is rewritten); a new timeout is a new set', () => {
    const state = (ips: string[], timeout = 2) =>
      localStateOf([node('node-a', { addresses: ['192.168.60.1'] }), service('a', { type: 'NodePort', affinity: timeout, clusterIPs: ['10.96.0.1'], ports: [{ port: 80, nodePort: 30001 }] }), slice('a', 'a', ips.map((ip) => ({ ip, node: 'node-b' })))]);
    const e1 = renderExternal(nodeView(state(['10.1.0.1', '10.1.0.2'])), { families: ['IPv4'] });
    const e2 = renderExternal(nodeView(state(['10.1.0.2', '10.1.0.3'])), { families: ['IPv4'] });
    const tx = lines(partialTransaction(e1.ports, e2.ports, ['default/a'], fullTransaction(e1).owners).text);
    const kinds = tx.map((l) => /^(\w+ \w+)/.exec(l)![1]);
    expect(kinds).toEqual(['add set', 'add chain', 'flush chain', 'add rule', 'add rule', 'add rule', 'add rule', 'add rule', 'delete set']);
    expect(tx[0]).toMatch(/^add set inet kpng-ebpf aff4-\S+__10\.1\.0\.3\/8080 \{ type ipv4_addr ; flags dynamic,timeout ; timeout 2s ; \}$/);
    expect(tx.at(-1)).toMatch(/^delete set inet kpng-ebpf aff4-\S+__10\.1\.0\.1\/8080$/);
    // The set of 10.1.0.2 stays (with the clients it holds).
    expect(tx.join('\n')).not.toMatch(/(add|delete) set \S+ \S+ aff4-\S+__10\.1\.0\.2\//);
    const e3 = renderExternal(nodeView(state(['10.1.0.2', '10.1.0.3'], 5)), { families: ['IPv4'] });
    const t3 = partialTransaction(e2.ports, e3.ports, ['default/a'], fullTransaction(e2).owners).text;
    expect(t3.match(/^add set .* timeout 5s ; \}$/gm)).toHaveLength(2);
    expect(t3.match(/^delete set /gm)).toHaveLength(2);
    // No affinity any more: the sets go, after the chain that named them is rewritten.
    const off = localStateOf([node('node-a', { addresses: ['192.168.60.1'] }), service('a', { type: 'NodePort', clusterIPs: ['10.96.0.1'], ports: [{ port: 80, nodePort: 30001 }] }), slice('a', 'a', [{ ip: '10.1.0.2', node: 'node-b' }, { ip: '10.1.0.3', node: 'node-b' }])]);
    const t4 = lines(partialTransaction(e2.ports, renderExternal(nodeView(off), { families: ['IPv4'] }).ports, ['default/a'], fullTransaction(e2).owners).text);
    expect(t4.slice(-2).every((l) => l.startsWith('delete set '))).toBe(true);
    expect(t4.join('\n')).not.toMatch(/@aff/);
  });

  it('a full sync over a table it trusts rewrites it in place and keeps the affinity sets that stay; a new skeleton replaces the table', () => {
    const state = (ips: string[], nodeIP = '192.168.60.1') =>
      localStateOf([node('node-a', { addresses: [nodeIP] }), service('a', { type: 'NodePort', affinity: 2, clusterIPs: ['10.96.0.1'], ports: [{ port: 80, nodePort: 30001 }] }), slice('a', 'a', ips.map((ip) => ({ ip, node: 'node-b' })))]);
    const e1 = renderExternal(nodeView(state(['10.1.0.1', '10.1.0.2'])), { families: ['IPv4'] });
    const e2 = renderExternal(nodeView(state(['10.1.0.2', '10.1.0.3'])), { families: ['IPv4'] });
    const tx = fullTransaction(e2, e1);
    expect(tx.rewrite).toBe(true);
    const text = lines(tx.text);
    expect(text).not.toContain('delete table inet kpng-ebpf');
    expect(text).toContain('flush map inet kpng-ebpf external4');
    expect(text).toContain('flush chain inet kpng-ebpf nat-prerouting');
    expect(text.filter((l) => l.startsWith('delete set '))).toEqual([expect.stringMatching(/__10\.1\.0\.1\/8080$/)]);
    // Every chain and set is emptied before anything is deleted.
    const lastFlush = text.findLastIndex((l) => l.startsWith('flush '));
    expect(text.findIndex((l) => l.startsWith('delete '))).toBeGreaterThan(lastFlush);
    const moved = renderExternal(nodeView(state(['10.1.0.2'], '192.168.60.9')), { families: ['IPv4'] });
    expect(fullTransaction(moved, e2)).toMatchObject({ rewrite: false, text: expect.stringMatching(/^add table inet kpng-ebpf\ndelete table inet kpng-ebpf\n/) });
  });

  it('above 16 endpoints the pick is one verdict map to a chain per endpoint (with affinity too)', () => {
    const ips = Array.from({ length: 17 }, (_, i) => `10.1.0.${i + 1}`);
    const s = localStateOf([node('node-a', { addresses: ['192.168.60.1'] }), service('a', { type: 'NodePort', affinity: 2, clusterIPs: ['10.96.0.1'], ports: [{ port: 80, nodePort: 30001 }] }), slice('a', 'a', ips.map((ip) => ({ ip, node: 'node-b' })))]);
    const part = renderExternal(nodeView(s), { families: ['IPv4'] }).ports.get('default/a')!;
    const eps = [...part.chains.keys()].filter((n) => n.startsWith('ep4-'));
    expect(eps).toHaveLength(17);
    expect(part.chains.get(eps[0]!)).toEqual([expect.stringMatching(/^meta l4proto tcp update @aff4-\S+__10\.1\.0\.1\/8080 \{ ip saddr \} dnat ip to 10\.1\.0\.1:8080$/)]);
    const ext = [...part.chains.entries()].find(([n]) => n.startsWith('ext4-'))![1];
    expect(ext).toHaveLength(1 + 17 + 1);
    expect(ext.at(-1)).toMatch(new RegExp(`^numgen random mod 17 vmap \\{ 0 : goto ${eps[0]!.replace(/[./]/g, '\\$&')}, 1 : goto ep4-`));
    // Endpoint chains come before the chain that jumps to them.
    const names = [...part.chains.keys()];
    expect(names.indexOf(eps.at(-1)!)).toBeLessThan(names.findIndex((n) => n.startsWith('ext4-')));
  });

  it('names from the API enter the table only through the escaper (a state that did not come through the model\'s checks)', () => {
    const s = localStateOf([
      node('node-a', { addresses: ['192.168.60.1'] }),
      service('x', { clusterIPs: ['10.96.0.1'], externalIPs: ['198.51.100.1'], ports: [{ name: 'p', port: 80 }] }),
      slice('x', 'x', [{ ip: '10.1.0.1', node: 'node-a' }], { ports: [{ name: 'p', port: 80 }] }),
    ]);
    const sp = s.servicePorts.get('default/x:p')!;
    const odd = { ...s, servicePorts: new Map([['default/x:p', { ...sp, portName: 'a"b;{c} }\nadd table ip evil', name: 'x y' }]]) };
    const { text } = fullTransaction(renderExternal(nodeView(odd), { families: ['IPv4'] }));
    expect(text).not.toMatch(/^add table ip evil|a"b|\{c\}/m);
    expect(text).toMatch(/^add chain inet kpng-ebpf ext4-[A-Z2-7]{8}-default\/x_y\/a_b__c____add_table_ip_evil$/m);
  });
});
