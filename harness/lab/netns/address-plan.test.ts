import { describe, expect, it } from 'vitest';
import { DEFAULT_PLAN, clientAddress, familiesOf, nodeAddress, planAddress, podAddress, podCidrFor, podGateway, resolvePlan } from './address-plan.ts';
import { contains, parseCidr } from './ip.ts';

describe('address plan', () => {
  const plan = resolvePlan();

  it('places nodes, clients and pods where the plan says, with IPv6 reading like IPv4', () => {
    expect(nodeAddress(plan, 'ipv4', 1)).toEqual({ address: '10.99.0.11', prefix: 24, cidr: '10.99.0.11/24' });
    expect(nodeAddress(plan, 'ipv6', 2).cidr).toBe('fd00:99::12/64');
    expect(clientAddress(plan, 'ipv4', 1).address).toBe('10.99.0.101');
    expect(clientAddress(plan, 'ipv6', 1).address).toBe('fd00:99::101');
    expect(podCidrFor(plan, 'ipv4', 2)).toBe('10.244.2.0/24');
    expect(podCidrFor(plan, 'ipv6', 12)).toBe('fd00:244:0:12::/64');
    expect(podGateway('10.244.2.0/24').address).toBe('10.244.2.1');
    expect(podAddress('fd00:244:0:2::/64', 1).cidr).toBe('fd00:244:0:2::2/64');
    expect(podAddress('10.244.2.0/24', 9).address).toBe('10.244.2.10');
    expect(podAddress('fd00:244:0:2::/64', 9).address).toBe('fd00:244:0:2::10');
    expect(planAddress(plan.service.ipv6, 10)).toBe('fd00:96::10');
  });

  it('keeps every pod CIDR inside the cluster CIDR and apart from the shared network', () => {
    for (const family of familiesOf('dual')) {
      const cluster = parseCidr(plan.cluster[family]);
      const shared = parseCidr(plan.shared[family]);
      for (let node = 1; node <= 50; node++) {
        const gateway = podGateway(podCidrFor(plan, family, node)).address;
        expect(contains(cluster, gateway)).toBe(true);
        expect(contains(shared, gateway)).toBe(false);
      }
    }
  });

  it('never gives a node and a client the same address', () => {
    const nodes = new Set(Array.from({ length: 90 }, (_, i) => nodeAddress(plan, 'ipv4', i + 1).address));
    const clients = Array.from({ length: 100 }, (_, i) => clientAddress(plan, 'ipv4', i + 1).address);
    expect(nodes.size).toBe(90);
    for (const client of clients) expect(nodes.has(client)).toBe(false);
    expect(() => nodeAddress(plan, 'ipv4', 91)).toThrow(/KPNG_ERR_NETNS_PLAN/);
    expect(() => clientAddress(plan, 'ipv4', 200)).toThrow(/outside 10.99.0.0\/24/);
  });

  it('takes overrides, and rejects ranges of the wrong family or that leave no room', () => {
    const custom = resolvePlan({ shared: { ipv4: '192.168.50.0/24' }, cluster: { ipv6: 'fd12::/56' } });
    expect(nodeAddress(custom, 'ipv4', 1).address).toBe('192.168.50.11');
    expect(custom.shared.ipv6).toBe(DEFAULT_PLAN.shared.ipv6);
    expect(podCidrFor(custom, 'ipv6', 3)).toBe('fd12:0:0:3::/64');
    expect(() => resolvePlan({ shared: { ipv4: 'fd00::/64' } })).toThrow(/KPNG_ERR_NETNS_PLAN: shared.ipv4/);
    expect(() => resolvePlan({ cluster: { ipv4: '10.0.0.0/24' } })).toThrow(/podCidrPrefix.ipv4/);
    expect(() => resolvePlan({ service: { ipv6: 'fd00::1/64' } })).toThrow(/host bits/);
    expect(() => resolvePlan({ firstNodeHost: 50, firstClientHost: 20 })).toThrow(/firstClientHost/);
  });

  it('lists the families of a topology, primary first', () => {
    expect(familiesOf('ipv4')).toEqual(['ipv4']);
    expect(familiesOf('ipv6')).toEqual(['ipv6']);
    expect(familiesOf('dual')).toEqual(['ipv4', 'ipv6']);
  });
});
