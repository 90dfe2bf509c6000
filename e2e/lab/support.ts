// What several lab specs share: the upstream framework's test Service and pods (agnhost
// netexec's ports), and its affinity checks (checkAffinity in test/e2e/network/service.go).
import type { V1Service } from '@kubernetes/client-node';
import type { LabPod } from '../../harness/lab/cluster/index.ts';
import { urlFor, type Namespace, type Node } from '../../harness/lab/netns/index.ts';
import { notYet, pass, tally, type SpecContext, type Target } from '../../harness/lab/suite/index.ts';

/** The Service port the specs use, and the pods' ports behind it (netexec: HTTP 8080, UDP 8081). */
export const SERVICE_PORT = 80;
export const HTTP_PORT = 8080;
export const UDP_PORT = 8081;

/** Consecutive answers from one pod that prove affinity (the upstream AffinityConfirmCount). */
export const AFFINITY_CONFIRM_COUNT = 15;

/** A ClusterIP Service selecting `app: <app>` (default: its name), port 80 → 8080/TCP (and 80 → 8081/UDP with udp). */
export function testService(name: string, opts: { app?: string; udp?: boolean; spec?: V1Service['spec']; labels?: Record<string, string> } = {}): V1Service {
  return {
    metadata: { name, ...(opts.labels && { labels: opts.labels }) },
    spec: {
      selector: { app: opts.app ?? name },
      ports: [
        { name: 'http', protocol: 'TCP', port: SERVICE_PORT, targetPort: HTTP_PORT },
        ...(opts.udp ? [{ name: 'udp', protocol: 'UDP', port: SERVICE_PORT, targetPort: UDP_PORT }] : []),
      ],
      ...opts.spec,
    },
  };
}

/** One endpoint pod per node given (labelled `app: <app>`), named <app>-1, <app>-2, ... */
export async function endpointPods(ctx: SpecContext, app: string, nodes: readonly Node[]): Promise<LabPod[]> {
  const pods: LabPod[] = [];
  for (const [i, node] of nodes.entries()) pods.push(await ctx.pod(`${app}-${i + 1}`, { node, labels: { app } }));
  return pods;
}

export const names = (pods: readonly LabPod[]): string[] => pods.map((pod) => pod.name);

/** Waits until AFFINITY_CONFIRM_COUNT requests in a row are answered by the same pod. Returns that pod. */
export function affinityHolds(ctx: SpecContext, from: Namespace, target: Target): Promise<string> {
  return ctx.waitFor(`session affinity: ${AFFINITY_CONFIRM_COUNT} requests in a row from ${from.name} answered by one pod`, async () => {
    const answers = await ctx.traffic.sample(from, target, AFFINITY_CONFIRM_COUNT);
    const first = answers[0]?.pod ?? '';
    return answers.every((a) => a.pod === first) ? pass(first) : notYet(`answered by ${tally(answers)}`);
  });
}

/** Waits until requests from `from` reach more than one pod (no affinity). */
export function affinityAbsent(ctx: SpecContext, from: Namespace, target: Target): Promise<void> {
  return ctx.waitFor(`no session affinity: requests from ${from.name} answered by more than one pod`, async () => {
    const answers = await ctx.traffic.sample(from, target, AFFINITY_CONFIRM_COUNT);
    return new Set(answers.map((a) => a.pod)).size > 1 ? pass(undefined) : notYet(`all ${answers.length} answered by ${answers[0]?.pod}`);
  });
}

export interface HealthCheckAnswer {
  status: number;
  localEndpoints: number;
}

/** GET a Service's healthCheckNodePort on a node, as a cloud load balancer's health checker does. */
export async function healthCheck(from: Namespace, nodeIP: string, port: number): Promise<HealthCheckAnswer> {
  const { status, body } = await from.httpGet(urlFor(nodeIP, port, '/healthz'), { timeoutMs: 2_000 });
  let localEndpoints = Number.NaN;
  try {
    localEndpoints = (JSON.parse(body) as { localEndpoints?: number }).localEndpoints ?? Number.NaN;
  } catch {
    // Not JSON: reported as NaN.
  }
  return { status, localEndpoints };
}

/** Waits until the node's health check answers `status` with `localEndpoints` local endpoints. */
export function healthCheckSays(ctx: SpecContext, from: Namespace, node: Node, port: number, expected: HealthCheckAnswer): Promise<void> {
  const ip = node.ip(ctx.primary);
  return ctx.waitFor(`health check node port ${port} on ${node.name} answering ${expected.status} with localEndpoints ${expected.localEndpoints}`, async () => {
    const got = await healthCheck(from, ip, port);
    return got.status === expected.status && got.localEndpoints === expected.localEndpoints
      ? pass(undefined)
      : notYet(`answered ${got.status} with localEndpoints ${got.localEndpoints}`);
  });
}
