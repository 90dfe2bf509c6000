// Every pipeline stage the `kpng` command knows, and how they connect:
//   <cluster source> [flags] <cluster sink> [flags] [<local sink> [flags]]   (to-local needs a local sink)
//   <local source> [flags] <local sink> [flags]
import type { Logger } from '../runtime/log.ts';
import type { ClusterSink, LocalSink } from '../sinks/sink.ts';
import type { ClusterSource, LocalSource } from '../sources/source.ts';
import { ToFile } from '../sinks/to-file.ts';
import { ToJSON } from '../sinks/to-json.ts';
import { ToLocal } from '../sinks/to-local.ts';
import { FileSource } from '../sources/file/file-source.ts';
import { defaultMaxBytes } from '../sources/file/read-snapshot.ts';
import { hostname } from 'node:os';
import { flagBoolean, flagNumber, flagString, nonEmpty, positiveDuration, type FlagSpec, type FlagValue, type FlagValues } from './flags.ts';

export interface StageContext {
  logger: Logger;
}

interface StageBase {
  name: string;
  summary: string;
  flags: FlagSpec[];
}

export interface ClusterSourceStage extends StageBase {
  role: 'cluster-source';
  create(v: FlagValues, ctx: StageContext): ClusterSource;
}
export interface LocalSourceStage extends StageBase {
  role: 'local-source';
  create(v: FlagValues, ctx: StageContext): LocalSource;
}
export interface ClusterSinkStage extends StageBase {
  role: 'cluster-sink';
  takesLocalSink: boolean;
  create(v: FlagValues, ctx: StageContext, next: LocalSink | undefined): ClusterSink;
}
export interface LocalSinkStage extends StageBase {
  role: 'local-sink';
  create(v: FlagValues, ctx: StageContext): LocalSink;
  /** `--cleanup`: remove what this sink ever created, then exit. */
  cleanup?(v: FlagValues, ctx: StageContext): Promise<void>;
  /** `--describe`: what the stage is, as JSON-able data (backends: their descriptor). */
  describe?(): unknown;
}

export type Stage = ClusterSourceStage | LocalSourceStage | ClusterSinkStage | LocalSinkStage;

const serviceProxyNameFlag: FlagSpec = {
  name: 'service-proxy-name',
  type: 'string',
  description: 'handle only Services labelled service.kubernetes.io/service-proxy-name=<this> (default: only unlabelled ones)',
};

/** What the API server accepts as a Node's name: a DNS-1123 subdomain. */
const nodeNamePattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * A given --node-name must be a name a Node can have. An empty one is refused rather than
 * replaced by the host name: `--node-name=$NODE_NAME` with the variable unset is a mistake
 * to report, not to guess around. So is "$(NODE_NAME)" left unexpanded (the pod spec
 * lacks the NODE_NAME env var). Only an absent flag falls back, as kube-proxy does.
 */
export function checkNodeName(value: FlagValue): string | undefined {
  const name = String(value);
  const accepted = 'accepted: the name of this node\'s Node object, a DNS-1123 subdomain (lower-case letters, digits, "-" and "."; at most 253 characters)';
  if (name === '') return `${accepted}; the value is empty (leave the flag out to use $NODE_NAME, else the host name)`;
  if (name.includes('$(')) return `${accepted}; "$(...)" was not expanded: give the container the env var it names (fieldRef spec.nodeName)`;
  if (name.length > 253 || !nodeNamePattern.test(name)) return accepted;
  return undefined;
}

/** This node's name: to-local's and local's --node-name. */
export const nodeNameFlag: FlagSpec = {
  name: 'node-name',
  type: 'string',
  default: process.env.NODE_NAME ?? '',
  description: 'this node (default $NODE_NAME, else the host name in lower case, as kube-proxy does)',
  check: checkNodeName,
};

/** --node-name, else $NODE_NAME (its default), else the host name in lower case (kube-proxy's fallback). */
export function nodeNameOf(v: FlagValues): string {
  return flagString(v, 'node-name') || hostname().trim().toLowerCase();
}

export const fileStage: ClusterSourceStage = {
  role: 'cluster-source',
  name: 'file',
  summary: 'read Services, EndpointSlices and Nodes from a YAML/JSON snapshot, re-read when it changes',
  flags: [
    { name: 'input', type: 'string', required: true, description: 'the snapshot: a multi-document YAML/JSON stream or a kind: List', check: nonEmpty('a file path') },
    { name: 'once', type: 'boolean', default: false, description: 'read once, let every sink sync once, and exit' },
    { name: 'debounce', type: 'duration', default: 100, description: 'quiet time after a change before re-reading; while changes keep coming, re-read every 10 × this' },
    {
      name: 'max-bytes',
      type: 'number',
      default: defaultMaxBytes,
      description: 'refuse a snapshot of more bytes than this (the last good state stays)',
      check: (value) => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 ? undefined : 'accepted: a whole number of bytes, 1 or more'),
    },
    serviceProxyNameFlag,
  ],
  create: (v, ctx) => {
    const serviceProxyName = flagString(v, 'service-proxy-name');
    const maxBytes = flagNumber(v, 'max-bytes') ?? defaultMaxBytes;
    return new FileSource({
      input: flagString(v, 'input')!,
      once: flagBoolean(v, 'once'),
      debounceMs: flagNumber(v, 'debounce') ?? 100,
      maxBytes,
      ...(serviceProxyName && { serviceProxyName }),
      logger: ctx.logger.child('file'),
    });
  },
};

export const kubeStage: ClusterSourceStage = {
  role: 'cluster-source',
  name: 'kube',
  summary: 'watch Services, EndpointSlices and Nodes in the Kubernetes API',
  flags: [
    { name: 'kubeconfig', type: 'string', description: 'kubeconfig file (default $KUBECONFIG, else the in-cluster service account)' },
    serviceProxyNameFlag,
    { name: 'watch-inactivity', type: 'duration', default: 90_000, description: 'restart a watch that has been silent this long (stall watchdog)', check: positiveDuration('90s') },
    { name: 'batch', type: 'duration', default: 0, description: 'gather API changes this long before syncing (0: as they come)' },
  ],
  create: (v, ctx) => {
    const kubeconfig = flagString(v, 'kubeconfig');
    const serviceProxyName = flagString(v, 'service-proxy-name');
    const opts = {
      ...(kubeconfig && { kubeconfig }),
      ...(serviceProxyName && { serviceProxyName }),
      watchInactivityMs: flagNumber(v, 'watch-inactivity') ?? 90_000,
      batchMs: flagNumber(v, 'batch') ?? 0,
      logger: ctx.logger.child('kube'),
    };
    // The client library is heavy to load: only pipelines that use it pay for it.
    return { run: async (sink, signal) => new (await import('../sources/kube/kube-source.ts')).KubeSource(opts).run(sink, signal) };
  },
};

export const toLocalStage: ClusterSinkStage = {
  role: 'cluster-sink',
  name: 'to-local',
  summary: "compute this node's local state and hand it to a backend (or to-json)",
  takesLocalSink: true,
  flags: [nodeNameFlag],
  create: (v, _ctx, next) => new ToLocal(nodeNameOf(v), next!),
};

export const toFileStage: ClusterSinkStage = {
  role: 'cluster-sink',
  name: 'to-file',
  summary: 'write the cluster state as a YAML snapshot that the file source reads back',
  takesLocalSink: false,
  flags: [{ name: 'output', type: 'string', required: true, description: 'the snapshot file to write', check: nonEmpty('a file path') }],
  create: (v) => new ToFile(flagString(v, 'output')!),
};

export const toJSONStage: LocalSinkStage = {
  role: 'local-sink',
  name: 'to-json',
  summary: 'print the node-local state as sorted JSON, one document per sync',
  flags: [{ name: 'output', type: 'string', description: 'write to this file (latest document only) instead of stdout', check: nonEmpty('a file path') }],
  create: (v) => {
    const output = flagString(v, 'output');
    return new ToJSON(output ? { output } : {});
  },
};

export const builtinStages: Stage[] = [fileStage, kubeStage, toLocalStage, toFileStage, toJSONStage];

export const followers: Record<Stage['role'], Array<Stage['role']>> = {
  'cluster-source': ['cluster-sink'],
  'local-source': ['local-sink'],
  'cluster-sink': [],
  'local-sink': [],
};
