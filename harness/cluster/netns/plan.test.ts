import { describe, expect, it } from 'vitest';
import { clusterPlan, newClusterId, nodeCgroup2Template, nodeStateTemplate, ownsNamespace, ownsStateEntry, planNamespaces, ID_PATTERN } from './plan.ts';

describe('the netns cluster plan', () => {
  it('places node N at 10.201.0.(10+N) with pod CIDR 10.244.N.0/24, alternating zones, and names everything with the cluster id', () => {
    const plan = clusterPlan('kc12ab', 3);
    expect(plan.nodes.map((n) => [n.name, n.netns, n.veth, n.ip, n.podCIDR, n.zone, n.cgroupRoot])).toEqual([
      ['node-1', 'kc12ab-node-1', 'kc12abn1', '10.201.0.11', '10.244.1.0/24', 'zone-a', '/kpng-kc12ab/node-1'],
      ['node-2', 'kc12ab-node-2', 'kc12abn2', '10.201.0.12', '10.244.2.0/24', 'zone-b', '/kpng-kc12ab/node-2'],
      ['node-3', 'kc12ab-node-3', 'kc12abn3', '10.201.0.13', '10.244.3.0/24', 'zone-a', '/kpng-kc12ab/node-3'],
    ]);
    expect(planNamespaces(plan)).toEqual(['kc12ab-sw', 'kc12ab-cp', 'kc12ab-node-1', 'kc12ab-node-2', 'kc12ab-node-3']);
    expect(plan.controlPlane).toEqual({ netns: 'kc12ab-cp', veth: 'kc12abc', ip: '10.201.0.2' });
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
  });
});
