// The interface every dataplane backend implements. Backends turn the node's view (per IP
// family, every service port with the endpoints each kind of traffic reaches) into a
// dataplane; they never re-decide which endpoints a node may use (that is the model's).
import type { NodeView, ViewChanges } from '../model/index.ts';

export interface SyncStats {
  /** Whether this was a full sync (everything written) or a partial one. */
  full: boolean;
  /** Bytes of rule text sent to the kernel tool (restore input, nft transaction), when it applies. */
  bytes?: number;
  /** Lines of rule text sent, when it applies. */
  lines?: number;
  /** Rule counts per table, for metrics (kube-proxy's sync_proxy_rules_iptables_total{table}). */
  rulesPerTable?: Record<string, number>;
  /** Service ports left out of the dataplane: their rules cannot be written, or the kernel refused them. */
  leftOut?: readonly string[];
  /** Transactions the kernel refused during this sync before the rest was programmed (counted as kube-proxy counts restore failures). */
  refusedTransactions?: number;
}

export interface Backend {
  /** "iptables", "nftables", "ipvs", "userspace", ... (what /proxyMode answers). */
  readonly name: string;
  /** Prepare: detect tools, check the kernel. Called once before the first sync. */
  setup(): Promise<void>;
  /**
   * Program the dataplane for `view`. `changes` says what differs, per family and service
   * port, from the view of the last successful sync; undefined asks for a full sync (at
   * start, after a failure, periodically, after tampering). Throws on failure, leaving the
   * previous rules in place.
   */
  sync(view: NodeView, changes: ViewChanges | undefined): Promise<SyncStats>;
  /** Whether someone else removed or altered our rules since the last sync (→ full sync). */
  tampered?(): Promise<boolean>;
  /**
   * The process is stopping: called once by the runtime's stop, after its last sync (no
   * sync follows). For what the backend itself carries (the userspace backend drains its
   * connections); the rules stay. Absent: nothing to do.
   */
  stop?(): Promise<void>;
  /** Remove everything the backend ever created. */
  cleanup(): Promise<void>;
}

/** How a backend presents itself to the CLI: `to-<name>` with its own flags. */
export interface BackendStage {
  name: string;
  summary: string;
  flags: import('../cli/flags.ts').FlagSpec[];
  create(flags: import('../cli/flags.ts').FlagValues, ctx: { logger: import('../runtime/log.ts').Logger }): Backend;
}
