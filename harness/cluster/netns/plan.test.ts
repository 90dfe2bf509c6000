import { describe, expect, it } from 'vitest';
import { clusterNetworks } from '../networks.ts';
import { addressFamilies, clusterPlan, newClusterId, nodeCgroup2Template, nodeStateTemplate, ownsNamespace, ownsStateEntry, planNamespaces, ID_PATTERN } from './plan.ts';

describe('the netns cluster plan', () => {
  it('places node N at 10.201.0.(10+N) with pod CIDR 10.244.N.0/24, alternating zones, and names everything with the cluster id', () => {
    const plan = clusterPlan('kc12ab', 3);
    expect(plan.nodes.map((n) => [n.name, n.netns, n.veth, n.ip, n.podCIDR, n.zone, n.cgroupRoot])).toEqual([
      ['node-1', 'kc12ab-node-1', 'kc12abn1', '10.201.0.11', '10.244.1.0/24', 'zone-a', '/kpng-kc12ab/node-1'],
      ['node-2', 'kc12ab-node-2', 'kc12abn2', '10.201.0.12', '10.244.2.0/24', 'zone-b', '/kpng-kc12ab/node-2'],
      ['node-3', 'kc12ab-node-3', 'kc12abn3', '10.201.0.13', '10.244.3.0/24', 'zone-a', '/kpng-kc12ab/node-3'],
    ]);
    expect(planNamespaces(plan)).toEqual(['kc12ab-sw', 'kc12ab-cp', 'kc12ab-node-1', 'kc12ab-node-2', 'kc12ab-node-3']);
    expect(plan.controlPlane).toEqual({ netns: 'kc12ab-cp', veth: 'kc12abc', ip: '10.201.0.2', ips: ['10.201.0.2'] });
    expect(plan.families).toEqual([{ family: 'ipv4', switchCIDR: '10.201.0.0/24', prefixLength: 24, gateway: '10.201.0.1', clusterCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/16', nodeCIDRMaskSize: 24 }]);
    expect([plan.family, plan.clusterCIDRs, plan.serviceCIDRs, plan.clusterDNS]).toEqual(['ipv4', ['10.244.0.0/16'], ['10.96.0.0/16'], '10.96.0.10']);
    expect(plan.nodes.map((n) => [n.ips, n.podCIDRs])).toEqual([1, 2, 3].map((i) => [[`10.201.0.${10 + i}`], [`10.244.${i}.0/24`]]));
  });

  it('gives an IPv6 cluster ULA addresses on the switch (fd00:201::/64), the N-th /64 of kind’s fd00:10:244::/56 for node N, and kind’s Service CIDR with its DNS at ::a', () => {
    const plan = clusterPlan('kc12ab', 11, 'ipv6');
    expect(plan.families).toEqual([{ family: 'ipv6', switchCIDR: 'fd00:201::/64', prefixLength: 64, gateway: 'fd00:201::1', clusterCIDR: 'fd00:10:244::/56', serviceCIDR: 'fd00:10:96::/112', nodeCIDRMaskSize: 64 }]);
    expect(plan.controlPlane).toMatchObject({ ip: 'fd00:201::2', ips: ['fd00:201::2'] });
    expect(plan.nodes.slice(0, 2).map((n) => [n.ip, n.ips, n.podCIDR, n.podCIDRs])).toEqual([
      ['fd00:201::11', ['fd00:201::11'], 'fd00:10:244:1::/64', ['fd00:10:244:1::/64']],
      ['fd00:201::12', ['fd00:201::12'], 'fd00:10:244:2::/64', ['fd00:10:244:2::/64']],
    ]);
    // Hexadecimal: node 10 and 11 do not meet node 16 and 17.
    expect(plan.nodes.slice(9).map((n) => n.podCIDR)).toEqual(['fd00:10:244:a::/64', 'fd00:10:244:b::/64']);
    expect([plan.clusterCIDRs, plan.serviceCIDRs, plan.clusterDNS]).toEqual([['fd00:10:244::/56'], ['fd00:10:96::/112'], 'fd00:10:96::a']);
    // Twenty nodes' /64s fit in the /56 (256 of them).
    expect(new Set(clusterPlan('kc12ab', 20, 'ipv6').nodes.map((n) => n.podCIDR)).size).toBe(20);
  });

  it('gives a dual cluster both columns, IPv4 first (the primary family, as kind’s dual clusters), and its DNS in IPv4 only', () => {
    const plan = clusterPlan('kc12ab', 2, 'dual');
    expect(addressFamilies('dual')).toEqual(['ipv4', 'ipv6']);
    expect(plan.families.map((f) => [f.family, f.gateway, f.clusterCIDR, f.serviceCIDR])).toEqual([
      ['ipv4', '10.201.0.1', '10.244.0.0/16', '10.96.0.0/16'],
      ['ipv6', 'fd00:201::1', 'fd00:10:244::/56', 'fd00:10:96::/112'],
    ]);
    expect(plan.controlPlane).toMatchObject({ ip: '10.201.0.2', ips: ['10.201.0.2', 'fd00:201::2'] });
    expect(plan.nodes.map((n) => [n.ip, n.ips, n.podCIDR, n.podCIDRs])).toEqual([
      ['10.201.0.11', ['10.201.0.11', 'fd00:201::11'], '10.244.1.0/24', ['10.244.1.0/24', 'fd00:10:244:1::/64']],
      ['10.201.0.12', ['10.201.0.12', 'fd00:201::12'], '10.244.2.0/24', ['10.244.2.0/24', 'fd00:10:244:2::/64']],
    ]);
    // The same CIDRs kind's dual clusters get (one table for both).
    expect(plan.clusterCIDRs).toEqual(clusterNetworks.dual.podCIDRs);
    expect(plan.serviceCIDRs).toEqual(clusterNetworks.dual.serviceCIDRs);
    expect(plan.clusterDNS).toBe('10.96.0.10');
    // Names do not depend on the family: a stop from the state file finds the same namespaces.
    expect(planNamespaces(plan)).toEqual(planNamespaces(clusterPlan('kc12ab', 2)));
  });

  it("gives each node a cgroup2 directory named by the node, below the cluster's, that the $(NODE_NAME) template resolves to", () => {
    const plan = clusterPlan('kc12ab', 2);
    expect(plan.nodes.map((n) => n.cgroup2)).toEqual(['/kpng-kc12ab/node-1', '/kpng-kc12ab/node-2']);
    expect(plan.controlPlaneCgroup).toBe('/kpng-kc12ab/control-plane');
    expect(nodeCgroup2Template(plan, '/sys/fs/cgroup/unified')).toBe('/sys/fs/cgroup/unified/kpng-kc12ab/$(NODE_NAME)');
    for (const n of plan.nodes) expect(nodeCgroup2Template(plan, '/sys/fs/cgroup/unified', n.name)).toBe(`/sys/fs/cgroup/unified${n.cgroup2}`);
  });

  it("names each node's state folder by the cluster id, so stop removes its own and no other cluster's", () => {
    const plan = clusterPlan('kc12ab', 2);
    expect(nodeStateTemplate(plan, '/sys/fs/bpf')).toBe('/sys/fs/bpf/kc12ab-$(NODE_NAME)');
    expect(nodeStateTemplate(plan, '/sys/fs/bpf/', 'node-2')).toBe('/sys/fs/bpf/kc12ab-node-2');
    expect(ownsStateEntry('kc12ab', 'kc12ab-node-2')).toBe(true);
    expect(ownsStateEntry('kc12ab', 'kc12ac-node-2')).toBe(false);
    expect(ownsStateEntry('kc12ab', 'kpng')).toBe(false);
    expect(() => nodeStateTemplate(plan, '/')).toThrow(/^KPNG_ERR_NETNS_CLUSTER: a node's state folder goes below an absolute folder other than \/, not "\/"/);
    expect(() => nodeStateTemplate(plan, 'sys/fs/bpf')).toThrow(/KPNG_ERR_NETNS_CLUSTER/);
    expect(() => nodeStateTemplate(plan, '/sys/../etc')).toThrow(/KPNG_ERR_NETNS_CLUSTER/);
  });

  it('keeps interface names within the kernel’s 15 characters at the most nodes', () => {
    const plan = clusterPlan('kcffff', 20);
    for (const n of plan.nodes) expect(n.veth.length).toBeLessThanOrEqual(15);
  });

  it('uses ids that the lab’s sweep of dead runs (kt....-) never matches', () => {
    const id = newClusterId();
    expect(id).toMatch(ID_PATTERN);
    expect(`${id}-node-1`).not.toMatch(/^kt[0-9a-f]{4}-/);
    expect(ownsNamespace(id, `${id}-cp`)).toBe(true);
    expect(ownsNamespace(id, 'kc0000-cp')).toBe(id === 'kc0000');
  });

  it('refuses node counts out of range and ids of another form, saying what is accepted', () => {
    expect(() => clusterPlan('kc12ab', 0)).toThrow(/^KPNG_ERR_NETNS_CLUSTER: 0 nodes: accepted 1 to 20/);
    expect(() => clusterPlan('kc12ab', 21)).toThrow(/accepted 1 to 20/);
    expect(() => clusterPlan('x; rm', 1)).toThrow(/^KPNG_ERR_NETNS_CLUSTER: cluster id "x; rm" is not kc followed by 4 hex digits/);
    expect(() => clusterPlan('kc12ab', 1, 'ipv5' as never)).toThrow(/^KPNG_ERR_NETNS_CLUSTER: IP family "ipv5": accepted ipv4, ipv6, dual/);
  });
});
