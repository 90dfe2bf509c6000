// The two kinds of pipeline sinks. A source feeds cluster state to one ClusterSink
// (to-local, to-api, to-file); to-local computes node-local state and feeds a LocalSink
// (a backend under the sync runtime, or to-json). The `local` gRPC source feeds a
// LocalSink directly.
import type { ClusterDelta, ClusterState, LocalChanges, LocalState } from '../model/index.ts';

export interface ClusterSink {
  start(): Promise<void>;
  /**
   * The cluster changed (delta names what). Called only once the source has a complete
   * view (every cache synced once); the first call carries everything.
   */
  onCluster(cluster: ClusterState, delta: ClusterDelta): void;
  /** Resolves once everything handed so far has been applied downstream (for --once). */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

export interface LocalSink {
  start(): Promise<void>;
  /**
   * A new node-local state; `changes` relative to the previous one handed here.
   * `meta.changeTriggerTimes`: when the changes that produced it began (ms since the epoch;
   * the EndpointSlices' last-change-trigger-time), for kubeproxy_network_programming_duration_seconds.
   */
  onLocal(state: LocalState, changes: LocalChanges, meta?: { changeTriggerTimes?: readonly number[] }): void;
  /** Resolves once the latest state has been applied (or failed for good). */
  drain(): Promise<void>;
  stop(): Promise<void>;
}
