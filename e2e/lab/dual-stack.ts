// test/e2e/network/dual_stack.go: the Granular Checks again, on the Service's secondary
// IP family (both families served by one proxy).
import type { LabSpec, SpecContext } from '../../harness/lab/suite/index.ts';
import { SERVICE_PORT, endpointPods, names, testService } from './support.ts';

const DUAL = '[sig-network] [Feature:IPv6DualStack] Granular Checks: Services Secondary IP Family [LinuxOnly]';

async function secondaryFamily(ctx: SpecContext, protocol: 'TCP' | 'UDP'): Promise<void> {
  const secondary = ctx.families[1]!;
  const svc = await ctx.service(testService('node-port-service', { app: 'netserver', udp: true, spec: { type: 'NodePort' } }));
  ctx.expect((svc.spec?.clusterIPs ?? []).length === 2, `the Service got cluster IPs ${JSON.stringify(svc.spec?.clusterIPs)}, not one per family`);
  const netservers = await endpointPods(ctx, 'netserver', ctx.nodes);
  const client = await ctx.clientPod('test-container-pod', ctx.nodes[0]!);
  // pod → secondary cluster IP, and pod → a node's secondary address on the node port.
  await ctx.traffic.servedBy(client.netns, ctx.clusterTarget(svc, SERVICE_PORT, { family: secondary, protocol }), names(netservers));
  const nodePort = ctx.nodePort(svc, protocol === 'TCP' ? 'http' : 'udp');
  const node = ctx.nodes[ctx.nodes.length - 1]!;
  await ctx.traffic.servedBy(client.netns, { ip: node.ip(secondary), port: nodePort, protocol }, names(netservers));
}

export const dualPodServiceHttp: LabSpec = {
  id: 'dual-stack-secondary-http',
  upstream: `${DUAL} should function for pod-Service: http`,
  source: 'test/e2e/network/dual_stack.go',
  requires: ['dual'],
  run: (ctx) => secondaryFamily(ctx, 'TCP'),
};

export const dualPodServiceUdp: LabSpec = {
  id: 'dual-stack-secondary-udp',
  upstream: `${DUAL} should function for pod-Service: udp`,
  source: 'test/e2e/network/dual_stack.go',
  requires: ['dual'],
  run: (ctx) => secondaryFamily(ctx, 'UDP'),
};
