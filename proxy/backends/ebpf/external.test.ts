import { describe, expect, it } from 'vitest';
import { localStateOf, node, service, slice } from '../../model/testing.ts';
import { fixtureState } from '../common/testing.ts';
import { nodeView } from '../../model/index.ts';
import { fullTransaction, nodePortIPs, partialTransaction, renderExternal } from './external.ts';

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
