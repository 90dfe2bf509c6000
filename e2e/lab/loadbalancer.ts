// test/e2e/network/loadbalancer.go: loadBalancerSourceRanges, with the lab as the cloud
// (it writes status.loadBalancer.ingress and routes the address to a node).
import type { LabSpec, SpecContext } from '../../harness/lab/suite/index.ts';
import { SERVICE_PORT, endpointPods, testService } from './support.ts';

function hostRange(ip: string): string {
  return ip.includes(':') ? `${ip}/128` : `${ip}/32`;
}

export const loadBalancerSourceRanges: LabSpec = {
  id: 'loadbalancer-source-ranges',
  slow: true,
  upstream: '[sig-network] LoadBalancers [Feature:LoadBalancer] should only allow access from service loadbalancer source ranges [Slow]',
  source: 'test/e2e/network/loadbalancer.go',
  requires: [{ nodes: 2 }],
  async run(ctx: SpecContext) {
    const [n1, n2] = [ctx.nodes[0]!, ctx.nodes[1]!];
    const name = 'lb-sourcerange';
    await ctx.service(testService(name, { spec: { type: 'LoadBalancer' } }));
    await endpointPods(ctx, name, [n1]);
    const acceptPod = await ctx.clientPod('execpod-accept', n1);
    const dropPod = await ctx.clientPod('execpod-drop', n2);
    const ingress = ctx.externalAddress(31);
    await ctx.setLoadBalancerIngress(name, [ingress]);
    await ctx.routeFromClients(ingress, n2);
    const outside = ctx.clients[0]!;
    const target = { ip: ingress, port: SERVICE_PORT };
    const expectReach = async (fromOutside: boolean, accept: boolean, drop: boolean) => {
      for (const [from, reachable] of [[outside, fromOutside], [acceptPod.netns, accept], [dropPod.netns, drop]] as const) {
        if (reachable) await ctx.traffic.reaches(from, target);
        else await ctx.traffic.fails(from, target, 'timeout');
      }
    };
    const setRanges = (ranges: string[] | undefined) =>
      ctx.updateService(name, (s) => {
        s.spec = { ...s.spec, loadBalancerSourceRanges: ranges };
      });

    await expectReach(true, true, true);
    // Allow acceptPod (its own address, or its node's once masqueraded), nobody else.
    await setRanges([hostRange(acceptPod.ip(ctx.primary)), hostRange(n1.ip(ctx.primary))]);
    await expectReach(false, true, false);
    // Allow all.
    await setRanges(ctx.primary === 'ipv4' ? ['0.0.0.0/1', '128.0.0.0/1'] : ['::/1', '8000::/1']);
    await expectReach(true, true, true);
    // Deny all, essentially.
    await setRanges(ctx.primary === 'ipv4' ? ['255.0.0.0/32'] : ['ffff::/128']);
    await expectReach(false, false, false);
    // Cleared.
    await setRanges(undefined);
    await expectReach(true, true, true);
  },
};
