import { describe, expect, it } from 'vitest';
import { localChanges } from './changes.ts';
import { ipFamilies, lowerFamily, parseIPFamilies, parseIPFamily } from './ip.ts';
import { computeLocalState, nextLocalState } from './local-state.ts';
import type { LocalEndpoint, LocalState } from './types.ts';
import { clusterOf, localStateOf, node, service, slice } from './testing.ts';
import { nodeView, viewChanges, viewWithPorts, type FamilyServicePort } from './view.ts';

const addrs = (eps: readonly LocalEndpoint[]) => eps.map((e) => e.address);
const nodes = [node('node-a', { addresses: ['192.168.0.2', '2001:db8::2'] }), node('node-b')];

/** The one service port of `objects` in `family`. */
function portOf(objects: unknown[], family: 'IPv4' | 'IPv6' = 'IPv4'): FamilyServicePort {
  const ports = [...nodeView(localStateOf([...nodes, ...objects])).families[family].servicePorts.values()];
  expect(ports).toHaveLength(1);
  return ports[0]!;
}

describe('traffic policies', () => {
  // One endpoint on this node (10.0.0.1), one elsewhere (10.0.0.2).
  const eps = [
    { ip: '10.0.0.1', node: 'node-a' },
    { ip: '10.0.0.2', node: 'node-b' },
  ];
  const cases = [
    { itp: 'Cluster', etp: 'Cluster', nodePort: true, internal: ['10.0.0.1', '10.0.0.2'], external: ['10.0.0.1', '10.0.0.2'], cluster: ['10.0.0.1', '10.0.0.2'], local: [], usesCluster: true, usesLocal: false },
    { itp: 'Cluster', etp: 'Local', nodePort: true, internal: ['10.0.0.1', '10.0.0.2'], external: ['10.0.0.1'], cluster: ['10.0.0.1', '10.0.0.2'], local: ['10.0.0.1'], usesCluster: true, usesLocal: true },
    { itp: 'Local', etp: 'Cluster', nodePort: true, internal: ['10.0.0.1'], external: ['10.0.0.1', '10.0.0.2'], cluster: ['10.0.0.1', '10.0.0.2'], local: ['10.0.0.1'], usesCluster: true, usesLocal: true },
    { itp: 'Local', etp: 'Local', nodePort: true, internal: ['10.0.0.1'], external: ['10.0.0.1'], cluster: ['10.0.0.1', '10.0.0.2'], local: ['10.0.0.1'], usesCluster: true, usesLocal: true },
    // Not externally accessible: externalTrafficPolicy does not apply, nothing reaches it from outside.
    { itp: 'Cluster', etp: 'Local', nodePort: false, internal: ['10.0.0.1', '10.0.0.2'], external: [], cluster: ['10.0.0.1', '10.0.0.2'], local: [], usesCluster: true, usesLocal: false },
    { itp: 'Local', etp: 'Cluster', nodePort: false, internal: ['10.0.0.1'], external: [], cluster: [], local: ['10.0.0.1'], usesCluster: false, usesLocal: true },
  ] as const;
  it.each(cases)('internal $itp, external $etp, NodePort $nodePort', (c) => {
    const fp = portOf([
      service('web', { type: c.nodePort ? 'NodePort' : 'ClusterIP', ports: [{ port: 80, targetPort: 8080, ...(c.nodePort && { nodePort: 30080 }) }], itp: c.itp, ...(c.nodePort && { etp: c.etp }) }),
      slice('web-1', 'web', eps),
    ]);
    expect(fp.externallyAccessible).toBe(c.nodePort);
    expect(addrs(fp.internalTrafficEndpoints)).toEqual(c.internal);
    expect(addrs(fp.externalTrafficEndpoints)).toEqual(c.external);
    expect(addrs(fp.clusterEndpoints)).toEqual(c.cluster);
    expect(addrs(fp.localEndpoints)).toEqual(c.local);
    expect(fp.usesClusterEndpoints).toBe(c.usesCluster);
    expect(fp.usesLocalEndpoints).toBe(c.usesLocal);
    // Every endpoint some traffic reaches, once.
    expect(addrs(fp.allReachable).sort()).toEqual([...new Set([...c.cluster, ...c.local])].sort());
    expect(fp.hasEndpoints).toBe(true);
  });

  it('a Local policy without a local endpoint leaves that traffic nothing, while endpoints exist elsewhere', () => {
    const fp = portOf([service('web', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }], itp: 'Local', etp: 'Local' }), slice('web-1', 'web', [{ ip: '10.0.0.2', node: 'node-b' }])]);
    expect(fp.internalTrafficEndpoints).toEqual([]);
    expect(fp.externalTrafficEndpoints).toEqual([]);
    expect(fp.hasEndpoints).toBe(true);
  });

  it('no endpoints anywhere: hasEndpoints is false', () => {
    const fp = portOf([service('web')]);
    expect(fp.hasEndpoints).toBe(false);
    expect(fp.allReachable).toEqual([]);
  });
});

describe('dual-stack', () => {
  const objects = [
    service('web', {
      type: 'LoadBalancer',
      clusterIPs: ['10.96.0.10', 'fd00:96::a'],
      ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }],
      externalIPs: ['192.168.99.1', '2001:db8:99::1'],
      lbIngress: [{ ip: '1.2.3.4' }, { ip: '2001:db8:77::4' }],
      sourceRanges: ['203.0.113.0/24', '2001:db8:55::/48'],
    }),
    slice('web-v4', 'web', [{ ip: '10.0.0.1', node: 'node-a' }]),
    slice('web-v6', 'web', [{ ip: 'fd00::1', node: 'node-b' }]),
  ];
  it('each family sees only its own frontends and endpoints', () => {
    const view = nodeView(localStateOf([...nodes, ...objects]));
    const v4 = view.families.IPv4.servicePorts.get('default/web')!;
    const v6 = view.families.IPv6.servicePorts.get('default/web')!;
    expect(v4).toMatchObject({ family: 'IPv4', key: 'default/web', clusterIP: '10.96.0.10', externalIPs: ['192.168.99.1'], lbIPs: ['1.2.3.4'], sourceRanges: ['203.0.113.0/24'] });
    expect(v6).toMatchObject({ family: 'IPv6', key: 'default/web', clusterIP: 'fd00:96::a', externalIPs: ['2001:db8:99::1'], lbIPs: ['2001:db8:77::4'], sourceRanges: ['2001:db8:55::/48'] });
    for (const fp of [v4, v6]) {
      for (const list of [fp.internalTrafficEndpoints, fp.externalTrafficEndpoints, fp.clusterEndpoints, fp.allReachable]) {
        expect(list.length).toBe(1);
        expect(list.every((e) => e.family === fp.family)).toBe(true);
      }
    }
    expect(v4.sp).toBe(v6.sp);
  });

  it('a single-stack service port is in its family only; node IPs are split by family', () => {
    const view = nodeView(localStateOf([...nodes, service('web'), slice('web-1', 'web', ['10.0.0.1'])]));
    expect([...view.families.IPv4.servicePorts.keys()]).toEqual(['default/web']);
    expect(view.families.IPv6.servicePorts.size).toBe(0);
    expect(view.nodeIPs).toEqual({ IPv4: ['192.168.0.2'], IPv6: ['2001:db8::2'] });
    expect(view.families.IPv6.nodeIPs).toEqual(['2001:db8::2']);
  });
});

describe('caching', () => {
  const objects = [...nodes, service('a', { clusterIPs: ['10.96.0.1'] }), slice('a-1', 'a', ['10.0.0.1']), service('b', { clusterIPs: ['10.96.0.2'] }), slice('b-1', 'b', ['10.0.1.1'])];

  /** The state after the cluster moves from `objects` to `next`, derived incrementally. */
  function step(state: LocalState, cluster: ReturnType<typeof clusterOf>, next: unknown[]): LocalState {
    const { delta } = cluster.replaceAll(next);
    return nextLocalState(state, cluster, delta, 'node-a');
  }

  it('the same state gives the same view; an unchanged service port the same object in the next view', () => {
    const cluster = clusterOf(objects);
    const s1 = computeLocalState(cluster, { nodeName: 'node-a' });
    const v1 = nodeView(s1);
    expect(nodeView(s1)).toBe(v1);
    const s2 = step(s1, cluster, [...objects.slice(0, 4), service('b', { clusterIPs: ['10.96.0.2'] }), slice('b-1', 'b', ['10.0.1.1', '10.0.1.2'])]);
    const v2 = nodeView(s2);
    expect(v2.families.IPv4.servicePorts.get('default/a')).toBe(v1.families.IPv4.servicePorts.get('default/a'));
    expect(v2.families.IPv4.servicePorts.get('default/b')).not.toBe(v1.families.IPv4.servicePorts.get('default/b'));
    expect(addrs(v2.families.IPv4.servicePorts.get('default/b')!.clusterEndpoints)).toEqual(['10.0.1.1', '10.0.1.2']);
    // Derived incrementally, it holds what a view from scratch holds.
    const scratch = nodeView(computeLocalState(cluster, { nodeName: 'node-a' }));
    for (const f of ipFamilies) expect(new Map([...v2.families[f].servicePorts].sort())).toEqual(new Map([...scratch.families[f].servicePorts].sort()));
  });

  it('a service port gone from the state is gone from the view', () => {
    const cluster = clusterOf(objects);
    const s1 = computeLocalState(cluster, { nodeName: 'node-a' });
    nodeView(s1);
    const s2 = step(s1, cluster, objects.slice(0, 4));
    expect([...nodeView(s2).families.IPv4.servicePorts.keys()]).toEqual(['default/a']);
  });

  it('viewWithPorts keeps only the named ports, sharing their objects', () => {
    const v = nodeView(localStateOf(objects));
    const sub = viewWithPorts(v, ['default/b', 'default/none']);
    expect([...sub.families.IPv4.servicePorts.keys()]).toEqual(['default/b']);
    expect(sub.families.IPv4.servicePorts.get('default/b')).toBe(v.families.IPv4.servicePorts.get('default/b'));
    expect([...sub.state.servicePorts.keys()]).toEqual(['default/b']);
  });
});

describe('viewChanges', () => {
  const stateOf = (...objects: unknown[]) => localStateOf([...nodes, ...objects]);
  const between = (a: LocalState | undefined, b: LocalState) => viewChanges(a && nodeView(a), nodeView(b), a && localChanges(a, b).servicePorts);

  it('counts frontend changes as service changes and endpoint list changes as endpoint changes', () => {
    const a = stateOf(service('web'), slice('web-1', 'web', ['10.0.1.1']), service('api', { clusterIPs: ['10.96.0.98'] }), slice('api-1', 'api', ['10.0.3.1']));
    const b = stateOf(
      service('web'),
      slice('web-1', 'web', ['10.0.1.1', '10.0.1.2']),
      service('api', { clusterIPs: ['10.96.0.99'] }),
      slice('api-1', 'api', ['10.0.3.1']),
      service('new', { clusterIPs: ['10.96.0.77'] }),
      slice('new-1', 'new', ['10.0.4.1']),
    );
    const c = between(a, b);
    expect([...c.services].sort()).toEqual(['default/api', 'default/new']);
    expect([...c.endpoints].sort()).toEqual(['default/new', 'default/web']);
    expect(c.families.IPv4.ports.get('default/new')).toEqual({ added: true, removed: false, service: true, endpoints: true });
    expect(c.families.IPv4.ports.get('default/web')).toEqual({ added: false, removed: false, service: false, endpoints: true });
    expect(c.families.IPv4.ports.get('default/api')).toEqual({ added: false, removed: false, service: true, endpoints: false });
    expect(c.families.IPv6.ports.size).toBe(0);
    expect(c.node).toBe(false);

    const back = between(b, a);
    expect(back.families.IPv4.ports.get('default/new')).toEqual({ added: false, removed: true, service: true, endpoints: true });
  });

  it('a change in one family is a change of that family only', () => {
    const dual = (v6: string[]) => stateOf(service('web', { clusterIPs: ['10.96.0.10', 'fd00:96::a'] }), slice('web-v4', 'web', ['10.0.0.1']), slice('web-v6', 'web', v6));
    const c = between(dual(['fd00::1']), dual(['fd00::1', 'fd00::2']));
    expect([...c.families.IPv6.ports.keys()]).toEqual(['default/web']);
    expect(c.families.IPv4.ports.size).toBe(0);
    expect([...c.servicePorts]).toEqual(['default/web']);
  });

  it('a port that gains a family is added in that family and changed in the other', () => {
    const a = stateOf(service('web', { clusterIPs: ['10.96.0.10'] }));
    const b = stateOf(service('web', { clusterIPs: ['10.96.0.10', 'fd00:96::a'] }));
    const c = between(a, b);
    expect(c.families.IPv6.ports.get('default/web')).toMatchObject({ added: true, service: true, endpoints: false });
    // The IPv4 side sees the same frontends: the port's IPv6 address is no IPv4 change.
    expect(c.families.IPv4.ports.has('default/web')).toBe(false);
  });

  it('a port changed and changed back is no change; a node change is', () => {
    const a = stateOf(service('web'));
    expect(viewChanges(nodeView(a), nodeView(stateOf(service('web'))), ['default/web']).servicePorts.size).toBe(0);
    const moved = localStateOf([node('node-a', { addresses: ['192.168.0.9'] }), service('web')]);
    const c = between(a, moved);
    expect(c.node).toBe(true);
    expect(nodeView(moved).nodeIPs.IPv4).toEqual(['192.168.0.9']);
  });

  it('without a previous view everything is added, and the node changed', () => {
    const c = between(undefined, stateOf(service('web')));
    expect(c.node).toBe(true);
    expect(c.families.IPv4.ports.get('default/web')).toMatchObject({ added: true });
  });
});

describe('IP family spelling', () => {
  it('one parser for --ip-families, either spelling, duplicates dropped', () => {
    expect(parseIPFamilies(['ipv6', 'IPv4', 'IPV6'], (m) => new Error(m))).toEqual(['IPv6', 'IPv4']);
    expect(() => parseIPFamilies(['ipv5'], (m) => new Error(m))).toThrow('--ip-families=ipv5: accepted: IPv4, IPv6');
    expect(parseIPFamily('dual')).toBeUndefined();
    for (const f of ipFamilies) expect(parseIPFamily(lowerFamily(f))).toBe(f);
  });
});
