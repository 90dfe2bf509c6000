import { describe, expect, it } from 'vitest';
import { localChanges } from './changes.ts';
import { nextLocalState, touchedSince } from './local-state.ts';
import type { LocalEndpoint, LocalState, ModelOptions, ServicePortState } from './types.ts';
import { clusterOf, localStateOf, node, service, slice, stillAlive, syntheticObjects, syntheticSlice } from './testing.ts';

const addrs = (eps: LocalEndpoint[]) => eps.map((e) => e.address);
const only = (objects: unknown[], opts: ModelOptions | string = 'node-a'): ServicePortState => {
  const ports = [...localStateOf(objects, opts).servicePorts.values()];
  expect(ports).toHaveLength(1);
  return ports[0]!;
};

describe('which Services count', () => {
  const cases: Array<{ name: string; objects: unknown[]; serviceProxyName?: string; counted: boolean }> = [
    { name: 'a plain ClusterIP Service', objects: [service('web')], counted: true },
    { name: 'service-proxy-name label, no --service-proxy-name', objects: [service('web', { labels: { 'service.kubernetes.io/service-proxy-name': 'other' } })], counted: false },
    { name: 'service-proxy-name label matching --service-proxy-name', objects: [service('web', { labels: { 'service.kubernetes.io/service-proxy-name': 'kpng' } })], serviceProxyName: 'kpng', counted: true },
    { name: 'service-proxy-name label not matching --service-proxy-name', objects: [service('web', { labels: { 'service.kubernetes.io/service-proxy-name': 'other' } })], serviceProxyName: 'kpng', counted: false },
    { name: 'no label but --service-proxy-name set', objects: [service('web')], serviceProxyName: 'kpng', counted: false },
    { name: 'headless label', objects: [service('web', { labels: { 'service.kubernetes.io/headless': '' } })], counted: false },
    { name: 'clusterIP None', objects: [service('web', { clusterIPs: ['None'] })], counted: false },
    { name: 'ExternalName', objects: [service('web', { type: 'ExternalName' })], counted: false },
  ];
  it.each(cases)('$name → counted: $counted', ({ objects, serviceProxyName, counted }) => {
    const state = localStateOf(objects, { nodeName: 'node-a', ...(serviceProxyName && { serviceProxyName }) });
    expect(state.servicePorts.size).toBe(counted ? 1 : 0);
  });
});

describe('frontends', () => {
  const cases: Array<{ name: string; objects: unknown[]; expect: Partial<ServicePortState> }> = [
    {
      name: 'dual-stack cluster IPs, one per family',
      objects: [service('web', { clusterIPs: ['fd00:96::a', '10.96.0.10'] })],
      expect: { clusterIPs: ['fd00:96::a', '10.96.0.10'] },
    },
    {
      name: 'IPv6 cluster IP is canonicalized',
      objects: [service('web', { clusterIPs: ['FD00:96:0:0::A'] })],
      expect: { clusterIPs: ['fd00:96::a'] },
    },
    {
      name: 'NodePort',
      objects: [service('web', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] })],
      expect: { nodePort: 30080 },
    },
    {
      name: 'nodePort is ignored on a ClusterIP Service',
      objects: [service('web', { ports: [{ port: 80, nodePort: 30080 }] })],
      expect: { nodePort: 0 },
    },
    {
      name: 'ExternalIPs',
      objects: [service('web', { externalIPs: ['192.0.2.10'] })],
      expect: { externalIPs: ['192.0.2.10'] },
    },
    {
      name: 'ExternalIPs of a family the Service does not serve are dropped',
      objects: [service('web', { externalIPs: ['192.0.2.10', '2001:db8::10'] })],
      expect: { externalIPs: ['192.0.2.10'] },
    },
    {
      name: 'LoadBalancer ingress: ipMode VIP and unset count, Proxy and hostname-only do not',
      objects: [
        service('web', {
          type: 'LoadBalancer',
          ports: [{ port: 80, nodePort: 30080 }],
          lbIngress: [{ ip: '203.0.113.1' }, { ip: '203.0.113.2', ipMode: 'VIP' }, { ip: '203.0.113.3', ipMode: 'Proxy' }, { hostname: 'lb.example' }],
        }),
      ],
      expect: { loadBalancerIPs: ['203.0.113.1', '203.0.113.2'] },
    },
    {
      name: 'loadBalancerSourceRanges from the spec',
      objects: [service('web', { type: 'LoadBalancer', ports: [{ port: 80, nodePort: 30080 }], lbIngress: [{ ip: '203.0.113.1' }], sourceRanges: ['198.51.100.0/24', ' 10.1.2.3/8 '] })],
      expect: { loadBalancerSourceRanges: ['198.51.100.0/24', '10.0.0.0/8'] },
    },
    {
      name: 'loadBalancerSourceRanges from the legacy annotation',
      objects: [
        service('web', {
          type: 'LoadBalancer',
          ports: [{ port: 80, nodePort: 30080 }],
          annotations: { 'service.beta.kubernetes.io/load-balancer-source-ranges': '198.51.100.0/24,192.0.2.0/25' },
        }),
      ],
      expect: { loadBalancerSourceRanges: ['198.51.100.0/24', '192.0.2.0/25'] },
    },
    { name: 'ClientIP affinity defaults to 10800 s', objects: [service('web', { affinity: true })], expect: { affinityTimeoutSeconds: 10800 } },
    { name: 'ClientIP affinity with a timeout', objects: [service('web', { affinity: 60 })], expect: { affinityTimeoutSeconds: 60 } },
    { name: 'UDP', objects: [service('dns', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] })], expect: { protocol: 'UDP', key: 'default/dns:dns' } },
    { name: 'SCTP', objects: [service('sig', { ports: [{ port: 3868, protocol: 'SCTP' }] })], expect: { protocol: 'SCTP', key: 'default/sig' } },
    {
      name: 'healthCheckNodePort with externalTrafficPolicy Local',
      objects: [service('web', { type: 'LoadBalancer', etp: 'Local', healthCheckNodePort: 32000, ports: [{ port: 80, nodePort: 30080 }] })],
      expect: { healthCheckNodePort: 32000, externalPolicyLocal: true },
    },
    {
      name: 'no healthCheckNodePort with externalTrafficPolicy Cluster',
      objects: [service('web', { type: 'LoadBalancer', healthCheckNodePort: 32000, ports: [{ port: 80, nodePort: 30080 }] })],
      expect: { healthCheckNodePort: 0, externalPolicyLocal: false },
    },
  ];
  it.each(cases)('$name', ({ objects, expect: want }) => {
    expect(only(objects)).toMatchObject(want);
  });

  it('a Service without affinity has no timeout', () => {
    expect(only([service('web')]).affinityTimeoutSeconds).toBeUndefined();
  });

  it('each port of a multi-port Service is its own service port', () => {
    const state = localStateOf([service('web', { ports: [{ name: 'http', port: 80 }, { name: 'dns', port: 53, protocol: 'UDP' }] })]);
    expect([...state.servicePorts.keys()].sort()).toEqual(['default/web:dns', 'default/web:http']);
  });
});

describe('endpoints', () => {
  const web = service('web', { ports: [{ name: 'http', port: 80, targetPort: 'http' }] });
  const http = [{ name: 'http', port: 8080 }];

  it('merges several slices of one Service', () => {
    const sp = only([web, slice('web-1', 'web', ['10.244.1.2'], { ports: http }), slice('web-2', 'web', ['10.244.2.2'], { ports: http })]);
    expect(addrs(sp.internalEndpoints)).toEqual(['10.244.1.2', '10.244.2.2']);
  });

  it('resolves a named targetPort per slice', () => {
    const sp = only([
      web,
      slice('web-1', 'web', ['10.244.1.2'], { ports: [{ name: 'http', port: 8080 }] }),
      slice('web-2', 'web', ['10.244.2.2'], { ports: [{ name: 'http', port: 9090 }] }),
    ]);
    expect(sp.internalEndpoints.map((e) => `${e.address}:${e.port}`)).toEqual(['10.244.1.2:8080', '10.244.2.2:9090']);
  });

  it('ignores a slice that has no port of that name', () => {
    const sp = only([web, slice('web-1', 'web', ['10.244.1.2'], { ports: [{ name: 'metrics', port: 9100 }] })]);
    expect(sp.internalEndpoints).toEqual([]);
  });

  it('merges one slice per family, and a dual-stack pod keeps both families', () => {
    const sp = only([
      service('web', { clusterIPs: ['10.96.0.10', 'fd00:96::a'], ports: [{ name: 'http', port: 80 }] }),
      slice('web-v4', 'web', [{ ip: '10.244.1.2', pod: 'web-0' }], { ports: http }),
      slice('web-v6', 'web', [{ ip: 'fd00:244:1::2', pod: 'web-0' }], { ports: http }),
    ]);
    expect(sp.internalEndpoints.map((e) => [e.family, e.address, e.targetRef])).toEqual([
      ['IPv4', '10.244.1.2', 'Pod/default/web-0'],
      ['IPv6', 'fd00:244:1::2', 'Pod/default/web-0'],
    ]);
    expect(sp.hasEndpoints).toEqual({ IPv4: true, IPv6: true });
  });

  it('deduplicates an endpoint listed in two slices, preferring the ready copy', () => {
    const sp = only([
      web,
      slice('web-1', 'web', [{ ip: '10.244.1.2', ready: false }], { ports: http }),
      slice('web-2', 'web', [{ ip: '10.244.1.2', ready: true }], { ports: http }),
    ]);
    expect(sp.internalEndpoints).toHaveLength(1);
    expect(sp.internalEndpoints[0]!.ready).toBe(true);
  });

  const conditionCases: Array<{ name: string; eps: EndpointOptsList; want: string[]; hasEndpoints: boolean }> = [
    {
      name: 'ready endpoints are used, unready ones are not',
      eps: [{ ip: '10.244.1.2' }, { ip: '10.244.1.3', ready: false, serving: false }],
      want: ['10.244.1.2'],
      hasEndpoints: true,
    },
    {
      name: 'terminating endpoints are ignored while a ready one exists',
      eps: [{ ip: '10.244.1.2' }, { ip: '10.244.1.3', ready: false, serving: true, terminating: true }],
      want: ['10.244.1.2'],
      hasEndpoints: true,
    },
    {
      name: 'no ready endpoint: fall back to serving and terminating ones',
      eps: [
        { ip: '10.244.1.3', ready: false, serving: true, terminating: true },
        { ip: '10.244.1.4', ready: false, serving: false, terminating: true },
      ],
      want: ['10.244.1.3'],
      hasEndpoints: true,
    },
    {
      name: 'neither ready nor serving-terminating: no endpoints (REJECT)',
      eps: [{ ip: '10.244.1.4', ready: false, serving: false, terminating: true }],
      want: [],
      hasEndpoints: false,
    },
    { name: 'a slice with no endpoints at all', eps: [], want: [], hasEndpoints: false },
  ];
  type EndpointOptsList = Parameters<typeof slice>[2];
  it.each(conditionCases)('$name', ({ eps, want, hasEndpoints }) => {
    const sp = only([web, slice('web-1', 'web', eps, { ports: http })]);
    expect(addrs(sp.internalEndpoints)).toEqual(want);
    expect(sp.hasEndpoints.IPv4).toBe(hasEndpoints);
  });

  it('marks endpoints on this node as local', () => {
    const sp = only([web, slice('web-1', 'web', [{ ip: '10.244.1.2', node: 'node-a' }, { ip: '10.244.2.2', node: 'node-b' }], { ports: http })]);
    expect(sp.internalEndpoints.map((e) => [e.address, e.local])).toEqual([
      ['10.244.1.2', true],
      ['10.244.2.2', false],
    ]);
  });
});

describe('topology', () => {
  const web = service('web', { ports: [{ port: 80 }] });
  const eps = (hints: Array<string[] | undefined>) =>
    slice(
      'web-1',
      'web',
      hints.map((zoneHints, i) => ({ ip: `10.244.${i + 1}.2`, zone: `zone-${i + 1}`, ...(zoneHints && { zoneHints }) })),
      { ports: [{ port: 8080 }] },
    );
  const cases: Array<{ name: string; objects: unknown[]; want: string[] }> = [
    {
      name: 'every endpoint hinted, one for our zone: only same-zone endpoints',
      objects: [web, node('node-a', { zone: 'zone-1' }), eps([['zone-1'], ['zone-2'], ['zone-1']])],
      want: ['10.244.1.2', '10.244.3.2'],
    },
    {
      name: 'one endpoint without a hint: all-or-nothing, all endpoints',
      objects: [web, node('node-a', { zone: 'zone-1' }), eps([['zone-1'], undefined, ['zone-2']])],
      want: ['10.244.1.2', '10.244.2.2', '10.244.3.2'],
    },
    {
      name: 'node without a zone label: all endpoints',
      objects: [web, node('node-a'), eps([['zone-1'], ['zone-2']])],
      want: ['10.244.1.2', '10.244.2.2'],
    },
    {
      name: 'no hint names our zone: all endpoints',
      objects: [web, node('node-a', { zone: 'zone-9' }), eps([['zone-1'], ['zone-2']])],
      want: ['10.244.1.2', '10.244.2.2'],
    },
    {
      name: 'trafficDistribution PreferClose is expressed through the same hints',
      objects: [service('web', { ports: [{ port: 80 }], trafficDistribution: 'PreferClose' }), node('node-a', { zone: 'zone-2' }), eps([['zone-1'], ['zone-2']])],
      want: ['10.244.2.2'],
    },
    {
      name: 'node hints (PreferSameNode) pick the endpoints hinted for this node',
      objects: [
        service('web', { ports: [{ port: 80 }], trafficDistribution: 'PreferSameNode' }),
        node('node-a', { zone: 'zone-1' }),
        slice(
          'web-1',
          'web',
          [
            { ip: '10.244.1.2', node: 'node-a', nodeHints: ['node-a'], zoneHints: ['zone-1'] },
            { ip: '10.244.1.3', node: 'node-b', nodeHints: ['node-b'], zoneHints: ['zone-1'] },
          ],
          { ports: [{ port: 8080 }] },
        ),
      ],
      want: ['10.244.1.2'],
    },
    {
      name: 'hints are ignored in the terminating fallback',
      objects: [
        web,
        node('node-a', { zone: 'zone-1' }),
        slice(
          'web-1',
          'web',
          [
            { ip: '10.244.1.2', ready: false, serving: true, terminating: true, zoneHints: ['zone-1'] },
            { ip: '10.244.2.2', ready: false, serving: true, terminating: true, zoneHints: ['zone-2'] },
          ],
          { ports: [{ port: 8080 }] },
        ),
      ],
      want: ['10.244.1.2', '10.244.2.2'],
    },
  ];
  it.each(cases)('$name', ({ objects, want }) => {
    expect(addrs(only(objects).internalEndpoints)).toEqual(want);
  });
});

describe('traffic policies: two endpoint sets per service port', () => {
  const endpoints = slice(
    'web-1',
    'web',
    [
      { ip: '10.244.1.2', node: 'node-a' },
      { ip: '10.244.2.2', node: 'node-b' },
    ],
    { ports: [{ port: 8080 }] },
  );
  const remoteOnly = slice('web-1', 'web', [{ ip: '10.244.2.2', node: 'node-b' }], { ports: [{ port: 8080 }] });
  const nodePort = (o: Parameters<typeof service>[1] = {}) => service('web', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }], ...o });

  const cases: Array<{ name: string; objects: unknown[]; internal: string[]; external: string[]; cluster: string[]; hasEndpoints: boolean }> = [
    {
      name: 'Cluster/Cluster: both sets are cluster-wide',
      objects: [nodePort(), endpoints],
      internal: ['10.244.1.2', '10.244.2.2'],
      external: ['10.244.1.2', '10.244.2.2'],
      cluster: ['10.244.1.2', '10.244.2.2'],
      hasEndpoints: true,
    },
    {
      name: 'externalTrafficPolicy Local: external traffic only to local endpoints, cluster set kept for the short circuit',
      objects: [nodePort({ etp: 'Local', healthCheckNodePort: 32000 }), endpoints],
      internal: ['10.244.1.2', '10.244.2.2'],
      external: ['10.244.1.2'],
      cluster: ['10.244.1.2', '10.244.2.2'],
      hasEndpoints: true,
    },
    {
      name: 'externalTrafficPolicy Local without a local endpoint: external set empty (DROP), endpoints exist',
      objects: [nodePort({ etp: 'Local', healthCheckNodePort: 32000 }), remoteOnly],
      internal: ['10.244.2.2'],
      external: [],
      cluster: ['10.244.2.2'],
      hasEndpoints: true,
    },
    {
      name: 'internalTrafficPolicy Local: cluster traffic only to local endpoints',
      objects: [service('web', { itp: 'Local' }), endpoints],
      internal: ['10.244.1.2'],
      external: [],
      cluster: [],
      hasEndpoints: true,
    },
    {
      name: 'internalTrafficPolicy Local without a local endpoint: DROP, not REJECT',
      objects: [service('web', { itp: 'Local' }), remoteOnly],
      internal: [],
      external: [],
      cluster: [],
      hasEndpoints: true,
    },
    {
      name: 'internalTrafficPolicy Local with a NodePort: external stays cluster-wide',
      objects: [nodePort({ itp: 'Local' }), endpoints],
      internal: ['10.244.1.2'],
      external: ['10.244.1.2', '10.244.2.2'],
      cluster: ['10.244.1.2', '10.244.2.2'],
      hasEndpoints: true,
    },
    {
      name: 'externalTrafficPolicy Local falls back to local terminating endpoints',
      objects: [
        nodePort({ etp: 'Local', healthCheckNodePort: 32000 }),
        slice(
          'web-1',
          'web',
          [
            { ip: '10.244.1.2', node: 'node-a', ready: false, serving: true, terminating: true },
            { ip: '10.244.2.2', node: 'node-b' },
          ],
          { ports: [{ port: 8080 }] },
        ),
      ],
      internal: ['10.244.2.2'],
      external: ['10.244.1.2'],
      cluster: ['10.244.2.2'],
      hasEndpoints: true,
    },
    {
      name: 'externalTrafficPolicy Local is moot on a ClusterIP Service without external IPs',
      objects: [service('web', { etp: 'Local' }), endpoints],
      internal: ['10.244.1.2', '10.244.2.2'],
      external: [],
      cluster: ['10.244.1.2', '10.244.2.2'],
      hasEndpoints: true,
    },
  ];
  it.each(cases)('$name', ({ objects, internal, external, cluster, hasEndpoints }) => {
    const sp = only(objects);
    expect(addrs(sp.internalEndpoints)).toEqual(internal);
    expect(addrs(sp.externalEndpoints)).toEqual(external);
    expect(addrs(sp.clusterEndpoints)).toEqual(cluster);
    expect(sp.hasEndpoints.IPv4).toBe(hasEndpoints);
  });
});

describe('the node', () => {
  it('carries the zone, deletion and autoscaler taint of this node', () => {
    const state = localStateOf([node('node-a', { zone: 'z1', deleting: true, taints: ['ToBeDeletedByClusterAutoscaler'] }), node('node-b')]);
    expect(state.node).toMatchObject({ name: 'node-a', zone: 'z1', known: true, deleting: true, toBeDeleted: true });
  });
  it('is unknown until its Node object arrives', () => {
    expect(localStateOf([]).node).toMatchObject({ name: 'node-a', known: false });
  });
});

describe('under churn', () => {
  it('a state derived from another does not keep it: only the states someone holds stay in memory', async () => {
    // As to-local and to-api do: each state derived from the one before, every endpoint of every Service changed each round.
    const services = 50;
    const objects = syntheticObjects(services, 2, 3);
    const cluster = clusterOf(objects);
    let state: LocalState = nextLocalState(undefined, cluster, { services: new Set(), nodes: new Set(), changeTriggerTimes: [] }, 'node-1');
    const refs = [new WeakRef(state)];
    for (let round = 1; round <= 40; round++) {
      const slices = Array.from({ length: services }, (_, s) => syntheticSlice(s, 2, 3, round * 1000));
      const { delta } = cluster.replaceAll([...objects.filter((o) => (o as { kind: string }).kind !== 'EndpointSlice'), ...slices]);
      const next = nextLocalState(state, cluster, delta, 'node-1');
      // Still derived incrementally: the change set comes from the lineage, not a full comparison.
      expect(touchedSince(state, next)?.size).toBe(services);
      expect(localChanges(state, next).servicePorts.size).toBe(services);
      state = next;
      refs.push(new WeakRef(state));
    }
    // The latest state, maybe the one before it (a dead local still on the stack); never the 41 of them.
    expect(await stillAlive(refs)).toBeLessThanOrEqual(2);
    expect(refs.at(-1)!.deref()).toBe(state);
  });
});
