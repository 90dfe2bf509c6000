// Every error code of the proxy, with what it means and what is accepted instead. Each
// error the proxy throws or logs starts its message with its code (`errorText`), so users
// can search for it; errors.test.ts checks that every code in the source is here, that
// every code here is used, and that README.md's "Error codes" section lists this table.

export const errorCodes = {
  KPNG_ERR_UNKNOWN_STAGE: 'a word that names no stage, or a stage in a place it cannot go; accepted: the stages --help lists',
  KPNG_ERR_UNKNOWN_FLAG: 'a flag the stage does not take; accepted: the flags the stage’s --help lists',
  KPNG_ERR_BAD_FLAG: 'a flag value the stage does not accept (a duration, address, CIDR, family, mark bit or node name); the message names what is accepted',
  KPNG_ERR_MISSING_FLAG: 'a flag the stage needs was not given',
  KPNG_ERR_PIPELINE: 'stages in an order that makes no pipeline; accepted: a source, then a sink, then (after to-local) a backend',
  KPNG_ERR_BAD_SYNC_PERIOD: '--sync-period or --min-sync-period out of range; accepted: a duration greater than 0 (the minimum: 0 or more)',
  KPNG_ERR_BAD_NODEPORT_ADDRESSES: '--nodeport-addresses holds something else than CIDRs and "primary"',
  KPNG_ERR_BAD_BIND_ADDRESS: 'a health or metrics bind address that is not IP:port (or :port)',
  KPNG_ERR_LISTEN: 'a health, metrics or health-check node port server cannot listen on its address',
  KPNG_ERR_NODE_UNKNOWN: '--node-name matches no Node object (logged once; kpng_node_known 0)',
  KPNG_ERR_BAD_OBJECT: 'a Service, EndpointSlice or Node with a field that does not follow Kubernetes’ syntax: the object is skipped',
  KPNG_ERR_SNAPSHOT_READ: 'the snapshot file cannot be read (missing, a directory, no permission); the last good state is kept',
  KPNG_ERR_SNAPSHOT_TOO_LARGE: 'the snapshot file is larger than --max-bytes; the last good state is kept',
  KPNG_ERR_SNAPSHOT_ENCODING: 'the snapshot is not UTF-8 text; the last good state is kept',
  KPNG_ERR_SNAPSHOT_PARSE: 'the snapshot is not YAML or JSON (with line and column); the last good state is kept',
  KPNG_ERR_SNAPSHOT_EMPTY: 'the snapshot has no document, as a file in the middle of a write; zero objects is a kind: List with items: []',
  KPNG_ERR_SNAPSHOT_NOT_OBJECTS: 'the snapshot holds something else than Kubernetes objects, or none of kind Service, EndpointSlice or Node',
  KPNG_ERR_KUBECONFIG: 'the kubeconfig cannot be read, or has no current cluster',
  KPNG_ERR_KUBE_API: 'the API server answered a list or watch with an error, or not in time (retried with backoff)',
  KPNG_ERR_API_ADDRESS: 'an --api or --listen address that is not unix:///path or tcp://host:port',
  KPNG_ERR_API_TLS: 'TLS options that do not fit together, or files that cannot be read',
  KPNG_ERR_API_LISTEN: 'the to-api server cannot listen on its address',
  KPNG_ERR_API_PROTOCOL: 'a peer of the node-local API sent something the protocol does not allow (a Watch without or with another node name)',
  KPNG_ERR_IPTABLES_SETUP: 'the iptables backend cannot start: bad options, or no working iptables on this node',
  KPNG_ERR_IPTABLES_RESTORE: 'iptables-restore refused the rules; the previous rules stay, the offending line is logged, the next sync is full',
  KPNG_ERR_NFT_SETUP: 'the nftables backend cannot start: bad options, or nft does not work on this node',
  KPNG_ERR_NFT_TRANSACTION: 'nft refused the transaction; the previous rules stay, the offending line is logged, the next sync is full',
  KPNG_ERR_SERVICE_PORT_REFUSED: 'the kernel refuses one service port’s rules: that port is left out, the rest programmed (kpng_service_ports_left_out)',
  KPNG_ERR_SYNC_FAILED: 'a sync failed; the sync runner tries again (/healthz turns 503 after two sync periods)',
  KPNG_ERR_RUNNER_STOPPED: 'the sync runner stopped before the latest state was applied',
  KPNG_ERR_CONNTRACK: 'clearing stale UDP conntrack entries failed',
  KPNG_ERR_BENCH: 'a benchmark argument or environment variable out of range, or a benchmark run that went wrong',
  KPNG_ERR_CONFORMANCE_SUBJECT: 'the conformance suite has no hooks for a backend subject, or the backend has no such subject; accepted: the subjects the message lists',
  KPNG_ERR_BENCH_BACKEND: 'a benchmark names a backend it has no entry for; accepted: the entries it lists',
  KPNG_ERR_BENCH_ROOT: 'the benchmark makes network namespaces: run it as root',
} as const satisfies Record<`KPNG_ERR_${string}`, string>;

export type ErrorCode = keyof typeof errorCodes;

/**
 * A table of codes and what each means. The proxy's own is `errorCodes`; a backend keeps the
 * codes only it uses in its folder and hands them over in its descriptor (`errors`), so the
 * one table of every code is this one plus the registered backends' (see registry.ts).
 */
export type ErrorTable = Readonly<Record<`KPNG_ERR_${string}`, string>>;

/** The message builder for one table: it takes that table's codes only. */
export function errorTextOf<T extends ErrorTable>(_table: T): (code: keyof T & string, detail: string) => string {
  return (code, detail) => `${code}: ${detail}`;
}

/** An error's message: its code first, then what was wrong and what is accepted. */
export const errorText: (code: ErrorCode, detail: string) => string = errorTextOf(errorCodes);

/** `errorText` without the code: what follows "CODE: " in a message. */
export function errorDetail(message: string): string {
  return message.replace(/^KPNG_ERR_[A-Z0-9_]+: /, '');
}
