// test/e2e/network/service.go: session affinity (sessionAffinity: ClientIP) for ClusterIP
// and NodePort Services, its timeout, and switching it on and off. Three endpoints, one per
// node, as the upstream specs' replication controller of three.
import type { V1Service } from '@kubernetes/client-node';
import type { Namespace } from '../../harness/lab/netns/index.ts';
import { notYet, pass, type LabSpec, type SpecContext, type Target } from '../../harness/lab/suite/index.ts';
import { SERVICE_PORT, affinityAbsent, affinityHolds, endpointPods, names, testService } from './support.ts';

const SERVICE_GO = 'test/e2e/network/service.go';
/** The lab's affinity timeout: short, so that waiting it out costs little. */
export const LAB_AFFINITY_TIMEOUT_SECONDS = 3;

interface AffinitySetup {
  svc: V1Service;
  from: Namespace;
  target: Target;
}

async function affinitySetup(ctx: SpecContext, name: string, type: 'ClusterIP' | 'NodePort', affinity: V1Service['spec']): Promise<AffinitySetup> {
  const svc = await ctx.service(testService(name, { spec: { type, ...affinity } }));
  const pods = await endpointPods(ctx, name, ctx.nodes.slice(0, 3));
  const from = type === 'ClusterIP' ? (await ctx.clientPod('execpod-affinity', ctx.nodes[0]!)).netns : ctx.clients[0]!;
  const target = type === 'ClusterIP' ? ctx.clusterTarget(svc, SERVICE_PORT) : { ip: ctx.nodes[0]!.ip(ctx.primary), port: ctx.nodePort(svc) };
  await ctx.traffic.reaches(from, target, { by: names(pods) });
  return { svc, from, target };
}

const clientIP = (timeoutSeconds?: number): V1Service['spec'] => ({
  sessionAffinity: 'ClientIP',
  ...(timeoutSeconds !== undefined && { sessionAffinityConfig: { clientIP: { timeoutSeconds } } }),
});

async function affinityWorks(ctx: SpecContext, type: 'ClusterIP' | 'NodePort'): Promise<void> {
  const { from, target } = await affinitySetup(ctx, type === 'ClusterIP' ? 'affinity-clusterip' : 'affinity-nodeport', type, clientIP());
  await affinityHolds(ctx, from, target);
}

async function affinitySwitches(ctx: SpecContext, type: 'ClusterIP' | 'NodePort'): Promise<void> {
  const name = type === 'ClusterIP' ? 'affinity-clusterip-transition' : 'affinity-nodeport-transition';
  const { from, target } = await affinitySetup(ctx, name, type, { sessionAffinity: 'None' });
  await affinityAbsent(ctx, from, target);
  await ctx.updateService(name, (s) => {
    s.spec = { ...s.spec, ...clientIP() };
  });
  await affinityHolds(ctx, from, target);
  await ctx.updateService(name, (s) => {
    s.spec = { ...s.spec, sessionAffinity: 'None', sessionAffinityConfig: undefined };
  });
  await affinityAbsent(ctx, from, target);
}

async function affinityTimesOut(ctx: SpecContext, type: 'ClusterIP' | 'NodePort'): Promise<void> {
  const name = type === 'ClusterIP' ? 'affinity-clusterip-timeout' : 'affinity-nodeport-timeout';
  const { from, target } = await affinitySetup(ctx, name, type, clientIP(LAB_AFFINITY_TIMEOUT_SECONDS));
  const sticky = await affinityHolds(ctx, from, target);
  // After the timeout a new connection may go anywhere: ask again, each time after the
  // timeout has passed, until another pod answers (upstream: at most 10 tries).
  const waitOut = (LAB_AFFINITY_TIMEOUT_SECONDS + 1) * 1000;
  let tries = 0;
  await ctx.waitFor(
    `session affinity expiring ${LAB_AFFINITY_TIMEOUT_SECONDS} s after the last request (a pod other than ${sticky} answering, 10 tries)`,
    async () => {
      tries++;
      const answer = await ctx.traffic.ask(from, target);
      ctx.log(`try ${tries}: ${answer.pod}`);
      return answer.pod !== sticky ? pass(undefined) : notYet(`try ${tries}: answered by ${answer.pod} again`);
    },
    { intervalMs: waitOut, timeoutMs: 10 * waitOut },
  );
}

export const affinityClusterIP: LabSpec = {
  id: 'session-affinity-clusterip',
  upstream: '[sig-network] Services should have session affinity work for service with type clusterIP [LinuxOnly] [Conformance]',
  source: SERVICE_GO,
  run: (ctx) => affinityWorks(ctx, 'ClusterIP'),
};

export const affinityTimeoutClusterIP: LabSpec = {
  id: 'session-affinity-timeout-clusterip',
  slow: true,
  upstream: '[sig-network] Services should have session affinity timeout work for service with type clusterIP [LinuxOnly]',
  source: SERVICE_GO,
  run: (ctx) => affinityTimesOut(ctx, 'ClusterIP'),
};

export const affinitySwitchClusterIP: LabSpec = {
  id: 'session-affinity-switch-clusterip',
  upstream: '[sig-network] Services should be able to switch session affinity for service with type clusterIP [LinuxOnly] [Conformance]',
  source: SERVICE_GO,
  run: (ctx) => affinitySwitches(ctx, 'ClusterIP'),
};

export const affinityNodePort: LabSpec = {
  id: 'session-affinity-nodeport',
  upstream: '[sig-network] Services should have session affinity work for NodePort service [LinuxOnly] [Conformance]',
  source: SERVICE_GO,
  run: (ctx) => affinityWorks(ctx, 'NodePort'),
};

export const affinityTimeoutNodePort: LabSpec = {
  id: 'session-affinity-timeout-nodeport',
  slow: true,
  upstream: '[sig-network] Services should have session affinity timeout work for NodePort service [LinuxOnly]',
  source: SERVICE_GO,
  run: (ctx) => affinityTimesOut(ctx, 'NodePort'),
};

export const affinitySwitchNodePort: LabSpec = {
  id: 'session-affinity-switch-nodeport',
  upstream: '[sig-network] Services should be able to switch session affinity for NodePort service [LinuxOnly] [Conformance]',
  source: SERVICE_GO,
  run: (ctx) => affinitySwitches(ctx, 'NodePort'),
};
