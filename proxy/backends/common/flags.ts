// Flags every kernel-rule backend takes with the same meaning, declared once here (or, for
// --nodeport-addresses, in the runtime) and listed by reference in each descriptor's flags,
// and their validation. Each backend adds its own (--dry-run and --cleanup say what they do).
import { checkWith, flagBoolean, flagList, flagNumber, type FlagSpec, type FlagValues } from '../../cli/flags.ts';
import { parseCIDR, parseIPFamilies, type IPFamily } from '../../model/index.ts';

export const clusterCIDRFlag: FlagSpec = {
  name: 'cluster-cidr',
  type: 'list',
  description: 'the pod network CIDRs, at most one per family: ClusterIP traffic from outside them is masqueraded, pods short-circuit externalTrafficPolicy=Local',
  default: [],
  check: checkWith((v) => checkAddressFlags(v as string[], [], (m) => new Error(m))),
};
/** --nodeport-addresses is the runtime's (it also places the health check ports): declared there, listed here by reference. */
export { nodePortAddressesFlag } from '../../runtime/flags.ts';

export const masqueradeAllFlag: FlagSpec = { name: 'masquerade-all', type: 'boolean', description: 'masquerade all traffic to cluster IPs', default: false };
export const masqueradeBitFlag: FlagSpec = {
  name: 'masquerade-bit',
  type: 'number',
  description: 'the packet mark bit (0-31) that asks for masquerade',
  default: 14,
  check: checkWith((v) => parseMasqueradeBit({ 'masquerade-bit': v }, (m) => new Error(m))),
};

export const ipFamiliesFlag: FlagSpec = {
  name: 'ip-families',
  type: 'list',
  description: 'families to sync (IPv4, IPv6); empty: every family the backend can program here',
  default: [],
  check: checkWith((v) => parseFamilies({ 'ip-families': v }, (m) => new Error(m))),
};

/** --ip-families, or undefined when empty. `fail` builds the backend's own setup error. */
export function parseFamilies(v: FlagValues, fail: (message: string) => Error): IPFamily[] | undefined {
  const list = flagList(v, 'ip-families');
  return list.length === 0 ? undefined : parseIPFamilies(list, fail);
}

/** --masquerade-bit, checked. */
export function parseMasqueradeBit(v: FlagValues, fail: (message: string) => Error): number {
  const bit = flagNumber(v, 'masquerade-bit') ?? 14;
  if (!Number.isInteger(bit) || bit < 0 || bit > 31) throw fail(`--masquerade-bit=${bit}: accepted: an integer 0-31`);
  return bit;
}

/** --cluster-cidr and --nodeport-addresses, checked: CIDRs, at most one pod CIDR per family. */
export function checkAddressFlags(clusterCIDRs: readonly string[], nodePortAddresses: readonly string[], fail: (message: string) => Error): void {
  for (const c of clusterCIDRs) {
    if (!parseCIDR(c)) throw fail(`--cluster-cidr=${c}: not a CIDR (accepted: e.g. 10.244.0.0/16,fd00:10:244::/56)`);
  }
  for (const f of ['IPv4', 'IPv6'] as const) {
    const n = clusterCIDRs.filter((c) => parseCIDR(c)?.family === f).length;
    if (n > 1) throw fail(`--cluster-cidr: ${n} CIDRs of ${f}; accepted: at most one per family`);
  }
  for (const a of nodePortAddresses) {
    if (a !== 'primary' && !parseCIDR(a)) throw fail(`--nodeport-addresses=${a}: accepted: CIDRs and/or "primary"`);
  }
}

/** The options every rule backend takes from the shared flags (and --nodeport-addresses, --dry-run), checked. */
export function ruleBackendOptions(v: FlagValues, fail: (message: string) => Error) {
  const families = parseFamilies(v, fail);
  return {
    clusterCIDRs: flagList(v, 'cluster-cidr'),
    masqueradeAll: flagBoolean(v, 'masquerade-all'),
    nodePortAddresses: flagList(v, 'nodeport-addresses'),
    masqueradeBit: parseMasqueradeBit(v, fail),
    ...(families && { families }),
    dryRun: flagBoolean(v, 'dry-run'),
  };
}
