// Endpoint changes: pods going away (networking.go "Granular Checks: Services"), and pods
// terminating while still serving (service.go, the terminating-endpoint fallbacks).
import type { LabSpec, SpecContext } from '../../harness/lab/suite/index.ts';
import { SERVICE_PORT, endpointPods, healthCheckSays, names, testService } from './support.ts';

async function updateEndpoints(ctx: SpecContext, protocol: 'TCP' | 'UDP'): Promise<void> {
  const svc = await ctx.service(testService('node-port-service', { app: 'netserver', udp: true }));
  const netservers = await endpointPods(ctx, 'netserver', ctx.nodes);
  const client = await ctx.clientPod('test-container-pod', ctx.nodes[0]!);
  const target = ctx.clusterTarget(svc, SERVICE_PORT, { protocol });
  await ctx.traffic.servedBy(client.netns, target, names(netservers));
  const [gone, ...rest] = netservers;
  await ctx.deletePod(gone!);
  await ctx.traffic.servedBy(client.netns, target, names(rest));
  // Once converged, every answer comes from the remaining pods (as upstream's minTries = maxTries).
  const answers = await ctx.traffic.sample(client.netns, target, 3 * rest.length);
  const strays = answers.filter((a) => a.pod === gone!.name);
  ctx.expect(strays.length === 0, `${strays.length} of ${answers.length} answers still came from the deleted pod ${gone!.name}`);
}

const NETWORKING_GO = 'test/e2e/network/networking.go';
const SERVICE_GO = 'test/e2e/network/service.go';

export const updateEndpointsHttp: LabSpec = {
  id: 'update-endpoints-http',
  slow: true,
  upstream: '[sig-network] Networking Granular Checks: Services should update endpoints: http',
  source: NETWORKING_GO,
  run: (ctx) => updateEndpoints(ctx, 'TCP'),
};

export const updateEndpointsUdp: LabSpec = {
  id: 'update-endpoints-udp',
  slow: true,
  upstream: '[sig-network] Networking Granular Checks: Services should update endpoints: udp',
  source: NETWORKING_GO,
  run: (ctx) => updateEndpoints(ctx, 'UDP'),
};

export const fallbackTerminatingCluster: LabSpec = {
  id: 'fallback-terminating-cluster',
  upstream: '[sig-network] Services should fallback to terminating endpoints when there are no ready endpoints with internalTrafficPolicy=Cluster',
  source: SERVICE_GO,
  async run(ctx) {
    const svc = await ctx.service(testService('svc-termination'));
    const [pod1, pod2] = await endpointPods(ctx, 'svc-termination', [ctx.nodes[0]!, ctx.nodes[0]!]);
    const client = await ctx.clientPod('client', ctx.nodes[1] ?? ctx.nodes[0]!);
    const target = ctx.clusterTarget(svc, SERVICE_PORT);
    await ctx.traffic.servedBy(client.netns, target, [pod1!.name, pod2!.name]);
    // A terminating endpoint is not used while a ready one exists...
    await ctx.terminate(pod1!, { serving: true });
    await ctx.traffic.servedBy(client.netns, target, [pod2!.name]);
    // ...and is used again once none is ready (both terminating, still serving).
    await ctx.terminate(pod2!, { serving: true });
    await ctx.traffic.servedBy(client.netns, target, [pod1!.name, pod2!.name]);
  },
};

export const fallbackLocalTerminating: LabSpec = {
  id: 'fallback-local-terminating-etp-local',
  upstream: '[sig-network] Services should fallback to local terminating endpoints when there are no ready endpoints with externalTrafficPolicy=Local',
  source: SERVICE_GO,
  requires: [{ nodes: 2 }],
  async run(ctx) {
    const [n1, n2] = [ctx.nodes[0]!, ctx.nodes[1]!];
    const svc = await ctx.service(testService('svc-termination', { spec: { type: 'NodePort', externalTrafficPolicy: 'Local' } }));
    const [local, remote] = await endpointPods(ctx, 'svc-termination', [n1, n2]);
    const target = { ip: n1.ip(ctx.primary), port: ctx.nodePort(svc) };
    const client = ctx.clients[0]!;
    await ctx.traffic.servedBy(client, target, [local!.name]);
    await ctx.terminate(local!, { serving: true });
    // No local endpoint is ready: the local terminating one serves, not the ready one on the other node.
    await ctx.traffic.servedBy(client, target, [local!.name]);
    ctx.expect(remote!.ready, 'the remote pod should still be ready');
  },
};

export const healthCheckTerminating: LabSpec = {
  id: 'health-check-only-terminating',
  upstream: '[sig-network] Services should fail health check node port if there are only terminating endpoints',
  source: SERVICE_GO,
  async run(ctx) {
    const n1 = ctx.nodes[0]!;
    const svc = await ctx.service(testService('svc-termination', { spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local' } }));
    const hcPort = svc.spec?.healthCheckNodePort ?? 0;
    ctx.expect(hcPort > 0, 'the API allocated no healthCheckNodePort to a LoadBalancer Service with externalTrafficPolicy=Local');
    const [pod] = await endpointPods(ctx, 'svc-termination', [n1]);
    const client = ctx.clients[0]!;
    await healthCheckSays(ctx, client, n1, hcPort, { status: 200, localEndpoints: 1 });
    await ctx.terminate(pod!, { serving: true });
    await healthCheckSays(ctx, client, n1, hcPort, { status: 503, localEndpoints: 0 });
    // The terminating endpoint still takes the traffic that reaches the node.
    await ctx.traffic.servedBy(client, { ip: n1.ip(ctx.primary), port: ctx.nodePort(svc) }, [pod!.name]);
  },
};
