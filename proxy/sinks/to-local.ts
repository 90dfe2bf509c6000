// to-local: compute this node's local state from the cluster state (incrementally) and
// hand it, with what changed, to a local sink (a backend under the runtime, or to-json).
import { localChanges, nextLocalState, type ClusterDelta, type ClusterState, type LocalState } from '../model/index.ts';
import type { ClusterSink, LocalSink } from './sink.ts';

export class ToLocal implements ClusterSink {
  private state: LocalState | undefined;
  private readonly nodeName: string;
  private readonly next: LocalSink;

  constructor(nodeName: string, next: LocalSink) {
    this.nodeName = nodeName;
    this.next = next;
  }

  start(): Promise<void> {
    return this.next.start();
  }

  onCluster(cluster: ClusterState, delta: ClusterDelta): void {
    const prev = this.state;
    const state = nextLocalState(prev, cluster, delta, this.nodeName);
    const changes = localChanges(prev, state);
    this.state = state;
    // The first view always goes down (even empty): a backend's first sync is its full sync.
    if (prev && changes.servicePorts.size === 0 && !changes.node) return;
    this.next.onLocal(state, changes, delta.changeTriggerTimes.length > 0 ? { changeTriggerTimes: delta.changeTriggerTimes } : undefined);
  }

  drain(): Promise<void> {
    return this.next.drain();
  }

  stop(): Promise<void> {
    return this.next.stop();
  }
}
