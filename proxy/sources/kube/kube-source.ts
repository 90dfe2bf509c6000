// The kube source: Services, EndpointSlices and Nodes from the Kubernetes API. Sinks see
// nothing until every kind has been listed once; then changes go down in small batches.
import { ClusterState, emptyDelta, formatWarning, isEmptyDelta, keyOf, labelHeadless, labelServiceProxyName, mergeDelta, type ApplyResult, type ClusterDelta, type ObjectKind } from '../../model/index.ts';
import type { Logger } from '../../runtime/log.ts';
import type { ClusterSink } from '../../sinks/sink.ts';
import type { ClusterSource } from '../source.ts';
import { KubeClient, loadKubeConfig } from './client.ts';
import { Reflector } from './reflector.ts';

export interface KubeSourceOptions {
  kubeconfig?: string;
  serviceProxyName?: string;
  /** A watch silent this long is considered stalled and restarted. */
  watchInactivityMs: number;
  /** Gather changes this long before handing them down (0: next tick). */
  batchMs: number;
  logger: Logger;
}

/** kube-proxy's server-side filter: no foreign service-proxy-name, no headless label. */
export function serviceLabelSelector(serviceProxyName?: string): string {
  const proxy = serviceProxyName ? `${labelServiceProxyName}=${serviceProxyName}` : `!${labelServiceProxyName}`;
  return `${proxy},!${labelHeadless}`;
}

/** What the source lists and watches; Services and EndpointSlices through the service-proxy-name selector. */
export const listedKinds: readonly { kind: ObjectKind; apiVersion: string; path: string; bySelector: boolean }[] = [
  { kind: 'Service', apiVersion: 'v1', path: '/api/v1/services', bySelector: true },
  { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', path: '/apis/discovery.k8s.io/v1/endpointslices', bySelector: true },
  { kind: 'Node', apiVersion: 'v1', path: '/api/v1/nodes', bySelector: false },
];

export class KubeSource implements ClusterSource {
  readonly cluster: ClusterState;
  readonly reflectors: Reflector[];
  private pending: ClusterDelta = emptyDelta();
  private flushScheduled = false;
  private first = true;
  private sink: ClusterSink | undefined;
  private readonly o: KubeSourceOptions;

  constructor(o: KubeSourceOptions) {
    this.o = o;
    this.cluster = new ClusterState(o.serviceProxyName ? { serviceProxyName: o.serviceProxyName } : {});
    const client = new KubeClient(loadKubeConfig(o.kubeconfig), o.watchInactivityMs);
    const selector = serviceLabelSelector(o.serviceProxyName);
    this.reflectors = listedKinds.map(({ kind, apiVersion, path, bySelector }) =>
      new Reflector({
        kind,
        apiVersion,
        path,
        ...(bySelector && selector && { labelSelector: selector }),
        client,
        logger: o.logger.child(kind),
        onReplace: (objects) => this.applied(this.cluster.replaceKind(kind, objects)),
        onEvent: (type, obj) => {
          if (type === 'DELETED') {
            const key = keyOf(kind, obj);
            if (key) this.applied(this.cluster.delete(kind, key));
          } else this.applied(this.cluster.upsert(obj));
        },
      }),
    );
  }

  private applied(r: ApplyResult): void {
    for (const w of r.warnings) this.o.logger.warn(formatWarning(w));
    mergeDelta(this.pending, r.delta);
    this.schedule();
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const run = () => {
      this.flushScheduled = false;
      this.flush();
    };
    if (this.o.batchMs > 0) setTimeout(run, this.o.batchMs);
    else setImmediate(run);
  }

  private flush(): void {
    if (!this.sink || !this.reflectors.every((r) => r.synced)) return;
    if (!this.first && isEmptyDelta(this.pending)) return;
    const delta = this.pending;
    this.pending = emptyDelta();
    if (this.first) this.o.logger.info('caches synced', { services: this.cluster.services.size, slices: this.cluster.slices.size, nodes: this.cluster.nodes.size });
    this.first = false;
    this.sink.onCluster(this.cluster, delta);
  }

  async run(sink: ClusterSink, signal: AbortSignal): Promise<void> {
    this.sink = sink;
    await Promise.all(this.reflectors.map((r) => r.run(signal)));
  }
}
