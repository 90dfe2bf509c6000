// Sources turn the outside world into cluster state (kube, file) or node-local state
// (local, over gRPC) and nothing else.
import type { ClusterSink, LocalSink } from '../sinks/sink.ts';

export interface ClusterSource {
  /**
   * Feed the sink until the signal aborts (or, for one-shot sources, until the first
   * complete view has been handed over and drained). Rejects only on a fatal error.
   */
  run(sink: ClusterSink, signal: AbortSignal): Promise<void>;
}

export interface LocalSource {
  run(sink: LocalSink, signal: AbortSignal): Promise<void>;
}
