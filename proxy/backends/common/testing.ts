// The backends' test door: a fixed cluster for every backend's tests, tracers and
// benchmarks, one Service per case the rules must handle, built from Service and
// EndpointSlice objects through the model; and the benchmarks' scale cluster.
import { ClusterState, computeLocalState, type LocalState } from '../../model/index.ts';
import { node, service, slice } from '../../model/testing.ts';

export const nodeName = 'node-a';
export const nodeIPv4 = '192.168.0.2';
export const nodeIPv6 = '2001:db8::2';
export const clusterCIDRs = ['10.0.0.0/8', 'fd00:10::/64'];
/** A client outside the cluster, inside svc5's first source range. */
export const allowedClient = '203.0.113.2';
/** A client outside the cluster and outside every source range. */
export const blockedClient = '203.0.113.130';

const p80 = [{ name: 'p80', port: 80 }];

/** The objects: each Service stands for one case (see the comments). */
export function fixtureObjects(): unknown[] {
  return [
    node(nodeName, { addresses: [nodeIPv4, nodeIPv6] }),
    node('node-b', { addresses: ['192.168.0.3', '2001:db8::3'] }),
    // ClusterIP, dual-stack, two endpoints (one local).
    service('svc1', { namespace: 'ns1', clusterIPs: ['172.30.0.41', 'fd00:30::41'], ports: [{ name: 'p80', port: 80, targetPort: 80 }] }),
    slice('svc1-v4', 'svc1', [{ ip: '10.180.0.1', node: 'node-b' }, { ip: '10.180.0.2', node: nodeName }], { namespace: 'ns1', ports: p80 }),
    slice('svc1-v6', 'svc1', [{ ip: 'fd00:180::1', node: 'node-b' }, { ip: 'fd00:180::2', node: nodeName }], { namespace: 'ns1', ports: p80 }),
    // LoadBalancer + ExternalIP, externalTrafficPolicy Local, with a local endpoint; health check node port.
    service('svc2', {
      namespace: 'ns2',
      type: 'LoadBalancer',
      clusterIPs: ['172.30.0.42', 'fd00:30::42'],
      ports: [{ name: 'p80', port: 80, nodePort: 3001 }],
      externalIPs: ['192.168.99.22'],
      lbIngress: [{ ip: '1.2.3.4' }, { ip: '2001:db8:99::4' }],
      etp: 'Local',
      healthCheckNodePort: 30000,
    }),
    slice('svc2-v4', 'svc2', [{ ip: '10.180.0.3', node: nodeName }, { ip: '10.180.0.4', node: 'node-b' }], { namespace: 'ns2', ports: p80 }),
    slice('svc2-v6', 'svc2', [{ ip: 'fd00:180::3', node: nodeName }, { ip: 'fd00:180::4', node: 'node-b' }], { namespace: 'ns2', ports: p80 }),
    // NodePort, externalTrafficPolicy Local, no local endpoint: external traffic dropped, pods short-circuit.
    service('svc3', { namespace: 'ns3', type: 'NodePort', clusterIPs: ['172.30.0.43'], ports: [{ name: 'p80', port: 80, nodePort: 3003 }], etp: 'Local', healthCheckNodePort: 30003 }),
    slice('svc3', 'svc3', [{ ip: '10.180.0.5', node: 'node-b' }], { namespace: 'ns3', ports: p80 }),
    // NodePort + ExternalIP, externalTrafficPolicy Cluster, three endpoints.
    service('svc4', { namespace: 'ns4', type: 'NodePort', clusterIPs: ['172.30.0.44'], ports: [{ name: 'p80', port: 80, nodePort: 3004 }], externalIPs: ['192.168.99.33'] }),
    slice('svc4', 'svc4', ['10.180.0.20', '10.180.0.21', '10.180.0.22'], { namespace: 'ns4', ports: p80 }),
    // LoadBalancer with source ranges (one holds the node IP) and ClientIP affinity, dual-stack.
    service('svc5', {
      namespace: 'ns5',
      type: 'LoadBalancer',
      clusterIPs: ['172.30.0.45', 'fd00:30::45'],
      ports: [{ name: 'p80', port: 80, nodePort: 3005 }],
      lbIngress: [{ ip: '5.6.7.8' }, { ip: '2001:db8:99::8' }],
      sourceRanges: ['203.0.113.0/25', '192.168.0.0/24', '2001:db8:77::/48'],
      affinity: true,
    }),
    slice('svc5-v4', 'svc5', ['10.180.0.6', '10.180.0.7'], { namespace: 'ns5', ports: p80 }),
    slice('svc5-v6', 'svc5', ['fd00:180::6', 'fd00:180::7'], { namespace: 'ns5', ports: p80 }),
    // LoadBalancer without endpoints: REJECT on every frontend.
    service('svc6', { namespace: 'ns6', type: 'LoadBalancer', clusterIPs: ['172.30.0.46'], ports: [{ name: 'p80', port: 80, nodePort: 3006 }], lbIngress: [{ ip: '9.10.11.12' }] }),
    // internalTrafficPolicy Local without a local endpoint: DROP.
    service('svc7', { namespace: 'ns7', clusterIPs: ['172.30.0.47'], ports: [{ name: 'p80', port: 80 }], itp: 'Local' }),
    slice('svc7', 'svc7', [{ ip: '10.180.0.8', node: 'node-b' }], { namespace: 'ns7', ports: p80 }),
    // No ready endpoint: the serving-and-terminating one is used (the model's fallback).
    service('svc8', { namespace: 'ns8', clusterIPs: ['172.30.0.48'], ports: [{ name: 'p80', port: 80 }] }),
    slice(
      'svc8',
      'svc8',
      [
        { ip: '10.180.0.9', node: 'node-b', ready: false, serving: true, terminating: true },
        { ip: '10.180.0.10', node: 'node-b', ready: false, serving: false, terminating: true },
      ],
      { namespace: 'ns8', ports: p80 },
    ),
    // SCTP NodePort, dual-stack.
    service('svc9', { namespace: 'ns9', type: 'NodePort', clusterIPs: ['172.30.0.49', 'fd00:30::49'], ports: [{ name: 'sctp', port: 9999, protocol: 'SCTP', nodePort: 3009 }] }),
    slice('svc9-v4', 'svc9', ['10.180.0.11'], { namespace: 'ns9', ports: [{ name: 'sctp', port: 9999, protocol: 'SCTP' }] }),
    slice('svc9-v6', 'svc9', ['fd00:180::11'], { namespace: 'ns9', ports: [{ name: 'sctp', port: 9999, protocol: 'SCTP' }] }),
    // An unnamed UDP port (its ServicePortName has no ":port" part).
    service('svc10', { namespace: 'ns10', clusterIPs: ['172.30.0.50'], ports: [{ port: 53, protocol: 'UDP' }] }),
    slice('svc10', 'svc10', ['10.180.0.12'], { namespace: 'ns10', ports: [{ port: 53, protocol: 'UDP' }] }),
  ];
}

export function clusterOfObjects(objects: unknown[]): ClusterState {
  const cluster = new ClusterState();
  const { warnings } = cluster.replaceAll(objects);
  if (warnings.length > 0) throw new Error(`malformed fixture object: ${JSON.stringify(warnings[0])}`);
  return cluster;
}

export function fixtureState(objects: unknown[] = fixtureObjects()): LocalState {
  return computeLocalState(clusterOfObjects(objects), { nodeName });
}

/** The fixture after one endpoint change: svc1 gains 10.180.0.13 (IPv4 only). */
export function fixtureObjectsAfterEndpointChange(): unknown[] {
  return fixtureObjects().map((o) =>
    (o as { metadata?: { name?: string } }).metadata?.name === 'svc1-v4'
      ? slice('svc1-v4', 'svc1', [{ ip: '10.180.0.1', node: 'node-b' }, { ip: '10.180.0.2', node: nodeName }, { ip: '10.180.0.13', node: 'node-b' }], { namespace: 'ns1', ports: p80 })
      : o,
  );
}

/** `count` ClusterIP Services (NodePort every tenth) with `endpoints` endpoints each: the benchmark's cluster. */
export function scaleObjects(count: number, endpoints: number): unknown[] {
  const out: unknown[] = [node(nodeName, { addresses: [nodeIPv4] })];
  for (let i = 0; i < count; i++) {
    const ip = `172.${16 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
    const nodePort = i % 10 === 0 ? { nodePort: 30000 + ((i / 10) % 2768) } : {};
    out.push(service(`svc-${i}`, { namespace: 'scale', type: nodePort.nodePort ? 'NodePort' : 'ClusterIP', clusterIPs: [ip], ports: [{ name: 'http', port: 80, targetPort: 8080, ...nodePort }] }));
    const eps: string[] = [];
    for (let j = 0; j < endpoints; j++) {
      const n = i * endpoints + j;
      eps.push(`10.${64 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`);
    }
    out.push(slice(`svc-${i}`, `svc-${i}`, eps, { namespace: 'scale', ports: [{ name: 'http', port: 8080 }] }));
  }
  return out;
}


/**
 * After the test tampered with the rules: polls every 50 ms (up to 5 s) until `repaired()`
 * holds, noting each /healthz code seen meanwhile, then (up to 2.5 s) until /healthz is 200.
 */
export async function watchRepair(healthz: () => Promise<number>, repaired: () => Promise<boolean>): Promise<{ repaired: boolean; codesMeanwhile: Set<number>; codeAfter: number }> {
  const sleep = () => new Promise((r) => setTimeout(r, 50));
  const codesMeanwhile = new Set<number>();
  let back = false;
  for (let i = 0; i < 100 && !back; i++) {
    await sleep();
    codesMeanwhile.add(await healthz());
    back = await repaired();
  }
  let codeAfter = 0;
  for (let i = 0; i < 50 && codeAfter !== 200; i++) {
    codeAfter = await healthz();
    if (codeAfter !== 200) await sleep();
  }
  return { repaired: back, codesMeanwhile, codeAfter };
}
