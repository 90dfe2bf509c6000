// The runtime's flags, kube-proxy's names and defaults (except --min-sync-period), and
// their validation into a config.
import { checkWith, flagList, flagNumber, flagString, positiveDuration, type FlagSpec, type FlagValues } from '../cli/flags.ts';
import { RuntimeError } from './errors.ts';
import { parseBindAddress, type BindAddress } from './http.ts';
import { parseNodePortAddresses, type NodePortAddresses } from './service-health.ts';

export const defaultHealthzBindAddress = '0.0.0.0:10256';
export const defaultMetricsBindAddress = '127.0.0.1:10249';

/** Shared with backends (which NodePorts answer on): declare it once, read it from the same values. */
export const nodePortAddressesFlag: FlagSpec = {
  name: 'nodeport-addresses',
  type: 'list',
  description: 'CIDRs (and/or "primary": the node\'s primary IPs) whose local addresses NodePorts and health check ports answer on; empty: all',
  default: [],
  check: checkWith((v) => parseNodePortAddresses(v as string[])),
};

export const runtimeFlags: FlagSpec[] = [
  {
    name: 'healthz-bind-address',
    type: 'string',
    description: 'IP:port of /healthz and /livez ([::]:10256 for IPv6; a bare IP takes port 10256; "" disables)',
    default: defaultHealthzBindAddress,
    check: checkWith((v) => parseBindAddress('healthz-bind-address', String(v), 10256)),
  },
  {
    name: 'metrics-bind-address',
    type: 'string',
    description: 'IP:port of /metrics and /proxyMode (a bare IP takes port 10249; "" disables)',
    default: defaultMetricsBindAddress,
    check: checkWith((v) => parseBindAddress('metrics-bind-address', String(v), 10249)),
  },
  {
    name: 'sync-period',
    type: 'duration',
    description: 'how often to check that the rules are intact (full resync if not); /healthz fails when a change waits 2x this long',
    default: 30_000,
    check: positiveDuration('30s'),
  },
  {
    name: 'min-sync-period',
    type: 'duration',
    description: 'least time between two syncs; 0 programs each change as soon as the running sync is done (changes arriving meanwhile are coalesced)',
    default: 0,
  },
  nodePortAddressesFlag,
];

export interface RuntimeConfig {
  healthz: BindAddress | undefined;
  metrics: BindAddress | undefined;
  syncPeriodMs: number;
  minSyncPeriodMs: number;
  nodePortAddresses: NodePortAddresses;
}

/** Validate the runtime's flag values (absent ones take their defaults). */
export function runtimeConfig(values: FlagValues): RuntimeConfig {
  const syncPeriodMs = flagNumber(values, 'sync-period') ?? 30_000;
  const minSyncPeriodMs = flagNumber(values, 'min-sync-period') ?? 0;
  if (!(syncPeriodMs > 0)) {
    throw new RuntimeError('KPNG_ERR_BAD_SYNC_PERIOD', `--sync-period=${syncPeriodMs}ms: accepted: a duration greater than 0, such as 30s`);
  }
  if (!(minSyncPeriodMs >= 0)) {
    throw new RuntimeError('KPNG_ERR_BAD_SYNC_PERIOD', `--min-sync-period=${minSyncPeriodMs}ms: accepted: a duration of 0 or more, such as 0s or 1s`);
  }
  return {
    healthz: parseBindAddress('healthz-bind-address', flagString(values, 'healthz-bind-address') ?? defaultHealthzBindAddress, 10256),
    metrics: parseBindAddress('metrics-bind-address', flagString(values, 'metrics-bind-address') ?? defaultMetricsBindAddress, 10249),
    syncPeriodMs,
    minSyncPeriodMs,
    nodePortAddresses: parseNodePortAddresses(flagList(values, 'nodeport-addresses')),
  };
}
