// test/e2e/network/conntrack.go: a UDP client keeps sending from one source port (one
// conntrack flow) while the server pod behind the Service is replaced; the proxy must
// clear the flow that points at the gone pod, or the client talks to nothing for as long
// as it keeps sending.
import type { V1Service } from '@kubernetes/client-node';
import type { LabSpec, SpecContext, Target } from '../../harness/lab/suite/index.ts';
import { SERVICE_PORT, testService } from './support.ts';

const CONNTRACK_GO = 'test/e2e/network/conntrack.go';
const CLIENT_SOURCE_PORT = 12345;

async function serverPodCycles(ctx: SpecContext, target: (svc: V1Service) => Target, type: 'ClusterIP' | 'NodePort'): Promise<void> {
  const clientNode = ctx.nodes[0]!;
  const serverNode = ctx.nodes[1] ?? clientNode;
  const svc = await ctx.service(testService('svc-udp', { udp: true, app: 'udp-backend', spec: { type } }));
  const client = await ctx.clientPod('pod-client', clientNode);
  const to = target(svc);
  const backend1 = await ctx.pod('backend-1', { node: serverNode, labels: { app: 'udp-backend' } });
  const flow = { sourcePort: CLIENT_SOURCE_PORT, answerTimeoutMs: 1_000 };
  await ctx.traffic.reaches(client.netns, to, { by: [backend1.name] }, flow);
  // A second backend first, then the first one goes: the flow has to move.
  const backend2 = await ctx.pod('backend-2', { node: serverNode, labels: { app: 'udp-backend' } });
  await ctx.deletePod(backend1);
  await ctx.traffic.reaches(client.netns, to, { by: [backend2.name] }, flow);
}

export const udpClusterIPCycle: LabSpec = {
  id: 'udp-clusterip-server-cycles',
  upstream: '[sig-network] Conntrack should be able to preserve UDP traffic when server pod cycles for a ClusterIP service',
  source: CONNTRACK_GO,
  run: (ctx) => serverPodCycles(ctx, (svc) => ctx.clusterTarget(svc, SERVICE_PORT, { protocol: 'UDP' }), 'ClusterIP'),
};

export const udpNodePortCycle: LabSpec = {
  id: 'udp-nodeport-server-cycles',
  upstream: '[sig-network] Conntrack should be able to preserve UDP traffic when server pod cycles for a NodePort service',
  source: CONNTRACK_GO,
  run: (ctx) =>
    serverPodCycles(ctx, (svc) => ({ ip: (ctx.nodes[1] ?? ctx.nodes[0]!).ip(ctx.primary), port: ctx.nodePort(svc, 'udp'), protocol: 'UDP' }), 'NodePort'),
};
