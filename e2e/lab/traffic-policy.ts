// Traffic policies: externalTrafficPolicy=Local (loadbalancer.go, "LoadBalancers
// ExternalTrafficPolicy: Local": the client's source address preserved, health check node
// ports per node, pods short-circuiting) and internalTrafficPolicy=Local (service.go).
import type { V1Service } from '@kubernetes/client-node';
import type { Node } from '../../harness/lab/netns/index.ts';
import type { LabSpec, SpecContext } from '../../harness/lab/suite/index.ts';
import { SERVICE_PORT, endpointPods, healthCheckSays, testService } from './support.ts';

const LOADBALANCER_GO = 'test/e2e/network/loadbalancer.go';
const SERVICE_GO = 'test/e2e/network/service.go';
const ETP_LOCAL = '[sig-network] LoadBalancers ExternalTrafficPolicy: Local [Feature:LoadBalancer] [Slow]';

/** A LoadBalancer Service with externalTrafficPolicy=Local, its ingress IP(s) set as a cloud would, routed from the clients via `via`. */
async function localLoadBalancer(ctx: SpecContext, name: string, addressIndex: number, via: Node): Promise<{ svc: V1Service; ingress: string }> {
  await ctx.service(testService(name, { spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local' } }));
  const ingress = ctx.externalAddress(addressIndex);
  const svc = await ctx.setLoadBalancerIngress(name, ctx.families.map((family) => ctx.externalAddress(addressIndex, family)));
  await ctx.routeFromClients(ingress, via);
  return { svc, ingress };
}

export const etpLocalLoadBalancer: LabSpec = {
  id: 'etp-local-loadbalancer',
  upstream: `${ETP_LOCAL} should work for type=LoadBalancer`,
  source: LOADBALANCER_GO,
  requires: [{ nodes: 2 }],
  async run(ctx) {
    const [n1, n2] = [ctx.nodes[0]!, ctx.nodes[1]!];
    const { svc, ingress } = await localLoadBalancer(ctx, 'external-local-lb', 21, n1);
    const [pod] = await endpointPods(ctx, 'external-local-lb', [n1]);
    const client = ctx.clients[0]!;
    const source = client.ip(ctx.primary);
    // Through the load balancer and through the node port of the node with the endpoint, the pod sees the client itself.
    await ctx.traffic.reaches(client, { ip: ingress, port: SERVICE_PORT }, { by: [pod!.name], client: source });
    await ctx.traffic.reaches(client, { ip: n1.ip(ctx.primary), port: ctx.nodePort(svc) }, { by: [pod!.name], client: source });
    // A node without a local endpoint drops the traffic rather than forwarding it (masqueraded) elsewhere.
    await ctx.traffic.fails(client, { ip: n2.ip(ctx.primary), port: ctx.nodePort(svc) }, 'timeout');
  },
};

export const etpLocalHealthCheck: LabSpec = {
  id: 'etp-local-health-check-node-port',
  upstream: `${ETP_LOCAL} should only target nodes with endpoints`,
  source: LOADBALANCER_GO,
  async run(ctx) {
    const { svc } = await localLoadBalancer(ctx, 'external-local-nodes', 22, ctx.nodes[0]!);
    const hcPort = svc.spec?.healthCheckNodePort ?? 0;
    ctx.expect(hcPort > 0, 'the API allocated no healthCheckNodePort to a LoadBalancer Service with externalTrafficPolicy=Local');
    const client = ctx.clients[0]!;
    for (const [i, endpointNode] of ctx.nodes.entries()) {
      const pod = await ctx.pod(`external-local-nodes-${i + 1}`, { node: endpointNode, labels: { app: 'external-local-nodes' } });
      await ctx.traffic.reaches(client, { ip: endpointNode.ip(ctx.primary), port: ctx.nodePort(svc) }, { by: [pod.name] });
      // Only the node with the endpoint passes the health check.
      for (const node of ctx.nodes) {
        await healthCheckSays(ctx, client, node, hcPort, node === endpointNode ? { status: 200, localEndpoints: 1 } : { status: 503, localEndpoints: 0 });
      }
      await ctx.deletePod(pod);
    }
  },
};

export const etpLocalFromPods: LabSpec = {
  id: 'etp-local-from-pods',
  upstream: `${ETP_LOCAL} should work from pods`,
  source: LOADBALANCER_GO,
  requires: [{ nodes: 2 }],
  async run(ctx) {
    const [n1, n2] = [ctx.nodes[0]!, ctx.nodes[1]!];
    const { ingress } = await localLoadBalancer(ctx, 'external-local-pods', 23, n1);
    const [server] = await endpointPods(ctx, 'external-local-pods', [n1]);
    // From a pod on a node without an endpoint: pods short-circuit to the cluster-wide endpoints, unmasqueraded.
    const pausePod = await ctx.clientPod('pause-pod', n2);
    await ctx.traffic.reaches(pausePod.netns, { ip: ingress, port: SERVICE_PORT }, { by: [server!.name], client: pausePod.ip(ctx.primary) });
  },
};

export const itpLocalPodToPod: LabSpec = {
  id: 'itp-local-pod-to-pod',
  upstream: '[sig-network] Services should respect internalTrafficPolicy=Local Pod to Pod',
  source: SERVICE_GO,
  requires: [{ nodes: 2 }],
  async run(ctx) {
    const [n1, n2] = [ctx.nodes[0]!, ctx.nodes[1]!];
    const svc = await ctx.service(testService('itp-local', { spec: { internalTrafficPolicy: 'Local' } }));
    const [server] = await endpointPods(ctx, 'itp-local', [n1]);
    const local = await ctx.clientPod('execpod-local', n1);
    const remote = await ctx.clientPod('execpod-remote', n2);
    const target = ctx.clusterTarget(svc, SERVICE_PORT);
    // Upstream checks which pod answers (its hostname), not the client's address.
    await ctx.traffic.reaches(local.netns, target, { by: [server!.name] });
    // No endpoint on its node: a connection error (upstream asserts only that; the conformance
    // suite asserts the drop itself, as kube-proxy's rules do).
    await ctx.traffic.fails(remote.netns, target, 'any');
  },
};

export const itpLocalHostToPod: LabSpec = {
  id: 'itp-local-host-to-pod',
  upstream: '[sig-network] Services should respect internalTrafficPolicy=Local Pod (hostNetwork: true) to Pod',
  source: SERVICE_GO,
  requires: [{ nodes: 2 }],
  async run(ctx) {
    const [n1, n2] = [ctx.nodes[0]!, ctx.nodes[1]!];
    const svc = await ctx.service(testService('itp-local-host', { spec: { internalTrafficPolicy: 'Local' } }));
    const [server] = await endpointPods(ctx, 'itp-local-host', [n1]);
    const target = ctx.clusterTarget(svc, SERVICE_PORT);
    await ctx.traffic.reaches(n1, target, { by: [server!.name] });
    await ctx.traffic.fails(n2, target, 'any');
  },
};
