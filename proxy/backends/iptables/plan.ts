// The iptables planner: from the node's view, what one IP family's restore input holds,
// laid out as kube-proxy lays it out (pkg/proxy/iptables/proxier.go, v1.31–1.34): the
// chains and rules each service port needs (its dispatch rules in the shared chains, its
// own KUBE-SVC/SVL/EXT/FW/SEP chains), which of them a partial sync rewrites, the fixed
// chains, the jump rules missing from the built-in chains and the stale chains to delete.
// write.ts turns a plan into iptables-restore text. Pure: everything it needs to know about
// the kernel comes in through the options.
import { cidrContains, compareIPs, familyOfCIDR, familyOfIP, parseCIDR, parseIP, type FamilyServicePort, type IPFamily, type LocalEndpoint, type NodeView } from '../../model/index.ts';
import {
  endpointString,
  isServiceChainName,
  kubeExternalServicesChain,
  kubeForwardChain,
  kubeletFirewallChain,
  kubeMarkMasqChain,
  kubeNodePortsChain,
  kubePostroutingChain,
  kubeProxyFirewallChain,
  kubeServicesChain,
  portProtoHash,
  servicePortEndpointChainName,
} from './names.ts';
import { commentWord } from './escape.ts';
import { ruleTarget, type SavedState } from './rules.ts';

/** The chains one service port owns in the nat table, and what it wrote where. */
export interface ServicePortChains {
  chains: readonly string[];
  /** Rules in its own chains. */
  natRules: number;
  /** Its rules in the shared chains (KUBE-SERVICES, KUBE-NODEPORTS, KUBE-EXTERNAL-SERVICES, KUBE-PROXY-FIREWALL), per table. */
  dispatch: { readonly filter: readonly string[]; readonly nat: readonly string[] };
  /** Endpoints its chains reach (counted for large-cluster mode). */
  endpoints: number;
}

/** What a successful sync wrote, per family: the base for the next partial sync. */
export interface SyncRecord {
  family: IPFamily;
  /** By ServicePortState.key, for the service ports of this family. */
  servicePorts: ReadonlyMap<string, ServicePortChains>;
  /** Inputs other than the service port itself that shape its chains; a change forces a rewrite of all of them. */
  globals: string;
  /** The rules of the fixed chains and the last rules of KUBE-SERVICES, as written. */
  fixed: string;
}

export interface RenderOptions {
  family: IPFamily;
  /** --cluster-cidr: pod traffic detection (at most one CIDR of this family is used). */
  clusterCIDRs?: readonly string[];
  /** --masquerade-all */
  masqueradeAll?: boolean;
  /** --nodeport-addresses CIDRs; none of this family (or a 0.0.0.0/0, ::/0) means every local address. */
  nodePortAddresses?: readonly string[];
  /** The node's interface addresses, to resolve nodePortAddresses CIDRs. */
  localAddresses?: readonly string[];
  /** The node's IPs, for loadBalancerSourceRanges that include the node itself; default: the Node object's addresses. */
  nodeIPs?: readonly string[];
  /** NodePorts on 127.0.0.1 (kube-proxy's --iptables-localhost-nodeports, default true; IPv4 only). */
  localhostNodePorts?: boolean;
  /** nf_conntrack_tcp_be_liberal is set: no DROP of INVALID packets. */
  conntrackTCPLiberal?: boolean;
  /** --masquerade-bit, default 14 (0x4000). */
  masqueradeBit?: number;
  /** Above this many endpoints per family, endpoint comments are dropped (default 1000). */
  largeClusterEndpointsThreshold?: number;
  /**
   * A partial sync: per-service chains are written only for `changed` service ports (and
   * for ports `previous` does not know); the rest are left as the last sync wrote them.
   * The shared chains (KUBE-SERVICES, KUBE-NODEPORTS, the filter table, ...) are written
   * whole when any of their rules changed, and left alone otherwise: an endpoint change
   * writes only that port's chains.
   */
  partial?: { changed: { has(key: string): boolean }; previous: SyncRecord };
  /**
   * A full sync's view of the kernel (iptables-save): service chains that exist but are no
   * longer used are deleted, and missing jump rules from the built-in chains are inserted.
   * Without it (and without `partial`), every jump rule is written, as on a fresh node.
   */
  existing?: SavedState;
  /** Declare the canary chain in mangle, nat and filter (default: on full syncs). */
  canary?: boolean;
}


/** A service port in a plan: its record, and its own chains when this input writes them. */
export interface PlannedPort {
  key: string;
  /** What it has (or, reused from the last sync's record, had) in the kernel. */
  record: ServicePortChains;
  /** Its own nat chains and their rules, when this input writes them (absent: left as the last sync wrote them). */
  own?: { chains: readonly string[]; rules: readonly string[] };
}

/** What one family's restore input holds: the planner's answer, the writer's question. */
export interface IptablesPlan {
  family: IPFamily;
  /** A full sync (not a partial one). */
  full: boolean;
  /** Declare the canary chain in mangle, nat and filter. */
  canary: boolean;
  /** The shared chains (KUBE-SERVICES, KUBE-NODEPORTS, the filter table's, the fixed ones) are written whole. */
  writeShared: boolean;
  /** KUBE-FIREWALL (kubelet's anti-martian chain) is ours to write: IPv4 with localhost NodePorts. */
  managesKubeletFirewall: boolean;
  /** The fixed chains' rules, in the order they are written. */
  fixed: { filterHead: readonly string[]; natHead: readonly string[]; natTail: readonly string[]; filter: readonly string[] };
  /** Jumps from the built-in chains to insert (full syncs: those the kernel lacks). */
  jumps: readonly JumpRule[];
  /** In key order: every port of the family when writeShared (their dispatch rules), else only those whose own chains are written. */
  ports: readonly PlannedPort[];
  /** Service chains no longer used, sorted: flushed and deleted. */
  deletedChains: string[];
  /** Pass back as `partial.previous` next time (after the input was applied). */
  record: SyncRecord;
  /** Service ports of this family. */
  servicePorts: number;
  /** Service ports whose chains this input writes. */
  writtenServicePorts: number;
  /** Rules in our chains once applied. */
  rulesPerTable: { filter: number; nat: number };
  largeClusterMode: boolean;
}

/** A jump from a built-in chain to one of ours, as kube-proxy installs it (prepended). */
export interface JumpRule {
  table: 'filter' | 'nat';
  chain: string;
  target: string;
  comment?: string;
  extra: readonly string[];
}

const ctNew = ['-m', 'conntrack', '--ctstate', 'NEW'];

/** kube-proxy's iptablesJumpChains, in its order. */
export const jumpRules: readonly JumpRule[] = [
  { table: 'filter', chain: 'INPUT', target: kubeExternalServicesChain, comment: 'kubernetes externally-visible service portals', extra: ctNew },
  { table: 'filter', chain: 'FORWARD', target: kubeExternalServicesChain, comment: 'kubernetes externally-visible service portals', extra: ctNew },
  { table: 'filter', chain: 'INPUT', target: kubeNodePortsChain, comment: 'kubernetes health check service ports', extra: [] },
  { table: 'filter', chain: 'FORWARD', target: kubeServicesChain, comment: 'kubernetes service portals', extra: ctNew },
  { table: 'filter', chain: 'OUTPUT', target: kubeServicesChain, comment: 'kubernetes service portals', extra: ctNew },
  { table: 'filter', chain: 'FORWARD', target: kubeForwardChain, comment: 'kubernetes forwarding rules', extra: [] },
  { table: 'filter', chain: 'INPUT', target: kubeProxyFirewallChain, comment: 'kubernetes load balancer firewall', extra: ctNew },
  { table: 'filter', chain: 'OUTPUT', target: kubeProxyFirewallChain, comment: 'kubernetes load balancer firewall', extra: ctNew },
  { table: 'filter', chain: 'FORWARD', target: kubeProxyFirewallChain, comment: 'kubernetes load balancer firewall', extra: ctNew },
  { table: 'nat', chain: 'OUTPUT', target: kubeServicesChain, comment: 'kubernetes service portals', extra: [] },
  { table: 'nat', chain: 'PREROUTING', target: kubeServicesChain, comment: 'kubernetes service portals', extra: [] },
  { table: 'nat', chain: 'POSTROUTING', target: kubePostroutingChain, comment: 'kubernetes postrouting rules', extra: [] },
];

/** The anti-martian chain kubelet also installs; ours only where localhost NodePorts are on (IPv4). */
export const kubeletJumpRules: readonly JumpRule[] = [
  { table: 'filter', chain: 'INPUT', target: kubeletFirewallChain, extra: [] },
  { table: 'filter', chain: 'OUTPUT', target: kubeletFirewallChain, extra: [] },
];

export function jumpRuleArgs(j: JumpRule): string[] {
  return [...j.extra, ...(j.comment !== undefined ? ['-m', 'comment', '--comment', j.comment] : []), '-j', j.target];
}

/** Whether the saved rules of j.chain already hold this jump (same target, same comment). */
export function hasJump(saved: SavedState | undefined, j: JumpRule): boolean {
  const rules = saved?.builtinRules.get(j.table)?.get(j.chain) ?? [];
  return rules.some((args) => {
    if (ruleTarget(args) !== j.target) return false;
    if (j.comment === undefined) return !args.includes('--comment');
    const i = args.indexOf('--comment');
    return i >= 0 && args[i + 1] === j.comment;
  });
}

/** Go's fmt.Sprintf("%#08x", v): at least eight hex digits after the 0x. */
export function formatMark(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

const probabilities: string[] = ['<bad value>'];
const pow10 = 10n ** 10n;

/** Go's fmt.Sprintf("%0.10f", 1/n): the exact binary value, rounded half to even. */
export function formatProbability(n: number): string {
  if (n < probabilities.length) return probabilities[n]!;
  for (let i = probabilities.length; i <= n; i++) probabilities.push(fixed10(1 / i));
  return probabilities[n]!;
}

function fixed10(x: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let e: number;
  if (exp === 0) e = -1074;
  else {
    mant |= 1n << 52n;
    e = exp - 1075;
  }
  // x = mant · 2^e; scale by 10^10 and round half to even.
  let q: bigint;
  if (e >= 0) q = (mant << BigInt(e)) * pow10;
  else {
    const den = 1n << BigInt(-e);
    const num = mant * pow10;
    q = num / den;
    const twice = (num % den) * 2n;
    if (twice > den || (twice === den && q % 2n === 1n)) q += 1n;
  }
  return `${q / pow10}.${(q % pow10).toString().padStart(10, '0')}`;
}

/** Local traffic detection by CIDR (kube-proxy's detect-local-mode=ClusterCIDR). */
interface LocalDetector {
  ifLocal: string;
  ifNotLocal: string;
}

function localDetector(family: IPFamily, clusterCIDRs: readonly string[] | undefined): LocalDetector | undefined {
  const cidr = (clusterCIDRs ?? []).find((c) => familyOfCIDR(c) === family);
  return cidr === undefined ? undefined : { ifLocal: `-s ${cidr}`, ifNotLocal: `! -s ${cidr}` };
}

/** The nodeport destination part of KUBE-SERVICES' last rule(s). */
function nodePortDestinations(o: RenderOptions, localhostNodePorts: boolean): string[] | undefined {
  const cidrs = (o.nodePortAddresses ?? []).filter((c) => familyOfCIDR(c) === o.family);
  const matchAll = cidrs.length === 0 || cidrs.some((c) => c.endsWith('/0'));
  if (matchAll) return undefined;
  const parsed = cidrs.map((c) => parseCIDR(c)).filter((c) => c !== undefined);
  const ips = (o.localAddresses ?? [])
    .filter((a) => {
      const ip = parseIP(a);
      return ip !== undefined && ip.family === o.family && parsed.some((c) => cidrContains(c, ip));
    })
    .filter((a) => {
      const loopback = o.family === 'IPv6' ? a === '::1' : a.startsWith('127.');
      return !loopback || (o.family === 'IPv4' && localhostNodePorts);
    });
  return [...new Set(ips)].sort(compareIPs);
}

function localhostNodePortsFor(o: RenderOptions): boolean {
  if (o.family !== 'IPv4' || o.localhostNodePorts === false) return false;
  const cidrs = (o.nodePortAddresses ?? []).filter((c) => familyOfCIDR(c) === 'IPv4');
  if (cidrs.length === 0) return true;
  const loopback = parseIP('127.0.0.1')!;
  return cidrs.some((c) => {
    const p = parseCIDR(c);
    return p !== undefined && cidrContains(p, loopback);
  });
}
/** Plans the restore input for one family. */
export function planIptables(view: NodeView, o: RenderOptions): IptablesPlan {
  const family = o.family;
  const ipv6 = family === 'IPv6';
  const mark = formatMark(1 << (o.masqueradeBit ?? 14));
  const detector = localDetector(family, o.clusterCIDRs);
  const localhostNodePorts = localhostNodePortsFor(o);
  const rejectWith = ipv6 ? 'icmp6-port-unreachable' : 'icmp-port-unreachable';
  const fview = view.families[family];
  const nodeIPs = (o.nodeIPs ?? fview.nodeIPs).filter((ip) => familyOfIP(ip) === family);
  const parsedNodeIPs = nodeIPs.map((ip) => parseIP(ip)).filter((ip) => ip !== undefined);

  // The service ports of this family. An unchanged port of a partial sync is not looked at
  // again: what the last sync wrote for it (its record) stands for it.
  const partialIn = o.partial && o.partial.previous.family === family ? o.partial : undefined;
  const previous = partialIn?.previous.servicePorts;
  const changedKeys = partialIn?.changed;
  const keys: string[] = []; // this family's ports, in the view's order
  let totalEndpoints = 0;
  for (const [key, fp] of fview.servicePorts) {
    keys.push(key);
    const prev = previous?.get(key);
    totalEndpoints += prev !== undefined && !changedKeys!.has(key) ? prev.endpoints : fp.allReachable.length;
  }
  const largeClusterMode = totalEndpoints > (o.largeClusterEndpointsThreshold ?? 1000);
  const globals = JSON.stringify({ largeClusterMode, nodeIPs, masqueradeAll: !!o.masqueradeAll, detector: detector?.ifLocal ?? '', mark });

  const partial = partialIn;
  const rewriteAll = !partial || partial.previous.globals !== globals;
  const full = !partial;
  const canary = o.canary ?? full;
  const portOf = (key: string): FamilyServicePort => fview.servicePorts.get(key)!;

  const epComment = (text: string) => (largeClusterMode ? '' : ` -m comment --comment ${commentWord(text)}`);
  const ctx: PortContext = { family, rejectWith, detector, masqueradeAll: !!o.masqueradeAll, parsedNodeIPs, epComment };

  // The fixed chains (KUBE-POSTROUTING, KUBE-MARK-MASQ, KUBE-FORWARD, the kubelet firewall)
  // and the last rule(s) of KUBE-SERVICES.
  const fixedFilter: string[] = [];
  const fixedNatHead: string[] = [
    `-A ${kubePostroutingChain} -m mark ! --mark ${mark}/${mark} -j RETURN`,
    `-A ${kubePostroutingChain} -j MARK --xor-mark ${mark}`,
    `-A ${kubePostroutingChain} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully`,
    `-A ${kubeMarkMasqChain} -j MARK --or-mark ${mark}`,
  ];
  const managesKubeletFirewall = !ipv6 && localhostNodePorts;
  const fixedFilterHead: string[] = managesKubeletFirewall
    ? [`-A ${kubeletFirewallChain} -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`]
    : [];
  // Last rule of KUBE-SERVICES: everything addressed to the node goes on to the NodePorts.
  const fixedNatTail: string[] = [];
  const nodePortsComment = '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"';
  const destinations = nodePortDestinations(o, localhostNodePorts);
  if (destinations === undefined) {
    const dst = ipv6 ? ' ! -d ::1/128' : localhostNodePorts ? '' : ' ! -d 127.0.0.0/8';
    fixedNatTail.push(`-A ${kubeServicesChain} ${nodePortsComment} -m addrtype --dst-type LOCAL${dst} -j ${kubeNodePortsChain}`);
  } else {
    for (const ip of destinations) fixedNatTail.push(`-A ${kubeServicesChain} ${nodePortsComment} -d ${ip} -j ${kubeNodePortsChain}`);
  }
  if (!o.conntrackTCPLiberal) fixedFilter.push(`-A ${kubeForwardChain} -m conntrack --ctstate INVALID -j DROP`);
  fixedFilter.push(`-A ${kubeForwardChain} -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`);
  fixedFilter.push(`-A ${kubeForwardChain} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
  const fixed = JSON.stringify([fixedFilterHead, fixedNatHead, fixedNatTail, fixedFilter]);

  // Every port: reused from the record, or planned anew (dispatch rules and its own chains).
  const entries: PlannedPort[] = [];
  const active = new Set<string>();
  let written = 0;
  // Whether the shared chains (KUBE-SERVICES, KUBE-NODEPORTS, KUBE-EXTERNAL-SERVICES,
  // KUBE-PROXY-FIREWALL and the fixed ones) come out as the last sync wrote them.
  let sharedUnchanged = !rewriteAll && partial.previous.fixed === fixed && partial.previous.servicePorts.size === keys.length;
  for (const key of keys) {
    const prev = previous?.get(key);
    if (!rewriteAll && prev !== undefined && !partial.changed.has(key)) {
      entries.push({ key, record: prev });
      // Chain names are per service port: only a full view of the kernel's chains needs these.
      if (o.existing) for (const c of prev.chains) active.add(c);
      continue;
    }
    written++;
    const fp = portOf(key);
    const dispatch = portDispatch(fp, ctx);
    const own = portChains(fp, ctx);
    for (const c of own.chains) active.add(c);
    const record: ServicePortChains = { chains: own.chains, natRules: own.rules.length, dispatch, endpoints: fp.allReachable.length };
    entries.push({ key, record, own });
    if (sharedUnchanged && !(prev && sameLines(prev.dispatch.filter, dispatch.filter) && sameLines(prev.dispatch.nat, dispatch.nat))) sharedUnchanged = false;
  }
  const writeShared = full || !sharedUnchanged;
  // The shared chains list every port in key order; otherwise only what is written needs an order.
  const byKey = (a: PlannedPort, b: PlannedPort) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  const emitted = writeShared ? entries.sort(byKey) : entries.filter((e) => e.own).sort(byKey);

  // Chains no longer in use: those the kernel has (full sync) or the last sync wrote (partial).
  const deletedChains: string[] = [];
  const stale = (c: string) => {
    if (active.has(c) || !isServiceChainName(c)) return;
    active.add(c); // once
    deletedChains.push(c);
  };
  const record = new Map<string, ServicePortChains>();
  let filterCount = fixedFilterHead.length + fixedFilter.length;
  let natCount = fixedNatHead.length + fixedNatTail.length;
  for (const e of entries) {
    record.set(e.key, e.record);
    filterCount += e.record.dispatch.filter.length;
    natCount += e.record.dispatch.nat.length + e.record.natRules;
  }
  if (partial) {
    for (const [key, prev] of partial.previous.servicePorts) {
      if (record.has(key) && !rewriteAll && !partial.changed.has(key)) continue;
      for (const c of prev.chains) stale(c);
    }
  }
  if (o.existing) for (const c of o.existing.chains.get('nat') ?? []) stale(c);
  deletedChains.sort();

  // Jumps from the built-in chains: a full sync inserts those the kernel lacks.
  const jumps = full ? [...jumpRules, ...(managesKubeletFirewall ? kubeletJumpRules : [])].filter((j) => !(o.existing && hasJump(o.existing, j))) : [];

  return {
    family,
    full,
    canary,
    writeShared,
    managesKubeletFirewall,
    fixed: { filterHead: fixedFilterHead, natHead: fixedNatHead, natTail: fixedNatTail, filter: fixedFilter },
    jumps,
    ports: emitted,
    deletedChains,
    record: { family, servicePorts: record, globals, fixed },
    servicePorts: keys.length,
    writtenServicePorts: written,
    rulesPerTable: { filter: filterCount, nat: natCount },
    largeClusterMode,
  };
}

function sameLines(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((l, i) => l === b[i]);
}

/** What rendering one service port needs besides the port itself. */
interface PortContext {
  family: IPFamily;
  rejectWith: string;
  detector: LocalDetector | undefined;
  masqueradeAll: boolean;
  parsedNodeIPs: ReturnType<typeof parseIP>[];
  epComment: (spn: string) => string;
}

/** The chains a service port's traffic goes through, and whether it has endpoints for each kind of traffic. */
function portPlan(fp: FamilyServicePort) {
  const sp = fp.sp;
  const hash = portProtoHash(sp.key, sp.protocol);
  const clusterPolicyChain = `KUBE-SVC-${hash}`;
  const localPolicyChain = `KUBE-SVL-${hash}`;
  const externalTrafficChain = `KUBE-EXT-${hash}`;
  const fwChain = `KUBE-FW-${hash}`;
  const { hasEndpoints } = fp;
  let internalPolicyChain = clusterPolicyChain;
  let hasInternalEndpoints = hasEndpoints;
  if (sp.internalPolicyLocal) {
    internalPolicyChain = localPolicyChain;
    if (fp.localEndpoints.length === 0) hasInternalEndpoints = false;
  }
  const externalPolicyLocal = sp.externalPolicyLocal && fp.externallyAccessible;
  let externalPolicyChain = clusterPolicyChain;
  let hasExternalEndpoints = hasEndpoints;
  if (externalPolicyLocal) {
    externalPolicyChain = localPolicyChain;
    if (fp.localEndpoints.length === 0) hasExternalEndpoints = false;
  }
  const usesFWChain = hasEndpoints && fp.lbIPs.length > 0 && fp.sourceRanges.length > 0;
  return {
    clusterPolicyChain,
    localPolicyChain,
    externalTrafficChain,
    fwChain,
    internalPolicyChain,
    externalPolicyChain,
    hasEndpoints,
    hasInternalEndpoints,
    hasExternalEndpoints,
    externalPolicyLocal,
    usesClusterPolicyChain: fp.clusterEndpoints.length > 0 && fp.usesClusterEndpoints,
    usesLocalPolicyChain: fp.localEndpoints.length > 0 && fp.usesLocalEndpoints,
    usesExternalTrafficChain: hasEndpoints && fp.externallyAccessible,
    usesFWChain,
    loadBalancerTrafficChain: usesFWChain ? fwChain : externalTrafficChain,
    m: `-m ${sp.protocol.toLowerCase()} -p ${sp.protocol.toLowerCase()}`,
    dport: `--dport ${sp.port}`,
  };
}

/** A service port's rules in the shared dispatch chains: KUBE-SERVICES, KUBE-NODEPORTS and the filter table. */
function portDispatch(fp: FamilyServicePort, ctx: PortContext): { filter: string[]; nat: string[] } {
  const sp = fp.sp;
  const spn = sp.key;
  const p = portPlan(fp);
  const { m, dport, hasEndpoints, hasInternalEndpoints, hasExternalEndpoints } = p;
  const filter: string[] = [];
  const nat: string[] = [];
  let internalFilterTarget = '';
  let internalFilterComment = '';
  let externalFilterTarget = '';
  let externalFilterComment = '';
  if (!hasEndpoints) {
    internalFilterTarget = externalFilterTarget = `REJECT --reject-with ${ctx.rejectWith}`;
    internalFilterComment = externalFilterComment = commentWord(`${spn} has no endpoints`);
  } else {
    if (!hasInternalEndpoints) {
      internalFilterTarget = 'DROP';
      internalFilterComment = commentWord(`${spn} has no local endpoints`);
    }
    if (!hasExternalEndpoints) {
      externalFilterTarget = 'DROP';
      externalFilterComment = commentWord(`${spn} has no local endpoints`);
    }
  }
  if (hasInternalEndpoints) {
    nat.push(`-A ${kubeServicesChain} -m comment --comment ${commentWord(`${spn} cluster IP`)} ${m} -d ${fp.clusterIP} ${dport} -j ${p.internalPolicyChain}`);
  } else {
    filter.push(`-A ${kubeServicesChain} -m comment --comment ${internalFilterComment} ${m} -d ${fp.clusterIP} ${dport} -j ${internalFilterTarget}`);
  }
  for (const ip of fp.externalIPs) {
    if (hasEndpoints) nat.push(`-A ${kubeServicesChain} -m comment --comment ${commentWord(`${spn} external IP`)} ${m} -d ${ip} ${dport} -j ${p.externalTrafficChain}`);
    if (!hasExternalEndpoints) filter.push(`-A ${kubeExternalServicesChain} -m comment --comment ${externalFilterComment} ${m} -d ${ip} ${dport} -j ${externalFilterTarget}`);
  }
  for (const ip of fp.lbIPs) {
    if (hasEndpoints) nat.push(`-A ${kubeServicesChain} -m comment --comment ${commentWord(`${spn} loadbalancer IP`)} ${m} -d ${ip} ${dport} -j ${p.loadBalancerTrafficChain}`);
    if (p.usesFWChain) {
      filter.push(`-A ${kubeProxyFirewallChain} -m comment --comment ${commentWord(`${spn} traffic not accepted by ${p.fwChain}`)} ${m} -d ${ip} ${dport} -j DROP`);
    }
  }
  if (!hasExternalEndpoints) {
    for (const ip of fp.lbIPs) filter.push(`-A ${kubeExternalServicesChain} -m comment --comment ${externalFilterComment} ${m} -d ${ip} ${dport} -j ${externalFilterTarget}`);
  }
  if (sp.nodePort !== 0) {
    if (hasEndpoints) nat.push(`-A ${kubeNodePortsChain} -m comment --comment ${commentWord(spn)} ${m} --dport ${sp.nodePort} -j ${p.externalTrafficChain}`);
    if (!hasExternalEndpoints) {
      filter.push(`-A ${kubeExternalServicesChain} -m comment --comment ${externalFilterComment} -m addrtype --dst-type LOCAL ${m} --dport ${sp.nodePort} -j ${externalFilterTarget}`);
    }
  }
  if (sp.healthCheckNodePort !== 0) {
    filter.push(`-A ${kubeNodePortsChain} -m comment --comment ${commentWord(`${spn} health check node port`)} -m tcp -p tcp --dport ${sp.healthCheckNodePort} -j ACCEPT`);
  }
  return { filter, nat };
}

/** A service port's own nat chains (KUBE-SVC, KUBE-SVL, KUBE-EXT, KUBE-FW, KUBE-SEP) and their rules. */
function portChains(fp: FamilyServicePort, ctx: PortContext): { chains: string[]; rules: string[] } {
  const sp = fp.sp;
  const spn = sp.key;
  const p = portPlan(fp);
  const { m, dport } = p;
  const chains: string[] = [];
  const rules: string[] = [];
  const declare = (c: string) => chains.push(c);

  if (p.hasInternalEndpoints) {
    const args = `-m comment --comment ${commentWord(`${spn} cluster IP`)} ${m} -d ${fp.clusterIP} ${dport}`;
    if (ctx.masqueradeAll) rules.push(`-A ${p.internalPolicyChain} ${args} -j ${kubeMarkMasqChain}`);
    else if (ctx.detector) rules.push(`-A ${p.internalPolicyChain} ${args} ${ctx.detector.ifNotLocal} -j ${kubeMarkMasqChain}`);
  }

  if (p.usesExternalTrafficChain) {
    declare(p.externalTrafficChain);
    if (!p.externalPolicyLocal) {
      rules.push(`-A ${p.externalTrafficChain} -m comment --comment ${commentWord(`masquerade traffic for ${spn} external destinations`)} -j ${kubeMarkMasqChain}`);
    } else {
      if (ctx.detector) {
        rules.push(`-A ${p.externalTrafficChain} -m comment --comment ${commentWord(`pod traffic for ${spn} external destinations`)} ${ctx.detector.ifLocal} -j ${p.clusterPolicyChain}`);
      }
      rules.push(`-A ${p.externalTrafficChain} -m comment --comment ${commentWord(`masquerade LOCAL traffic for ${spn} external destinations`)} -m addrtype --src-type LOCAL -j ${kubeMarkMasqChain}`);
      rules.push(`-A ${p.externalTrafficChain} -m comment --comment ${commentWord(`route LOCAL traffic for ${spn} external destinations`)} -m addrtype --src-type LOCAL -j ${p.clusterPolicyChain}`);
    }
    if (p.hasExternalEndpoints) rules.push(`-A ${p.externalTrafficChain} -j ${p.externalPolicyChain}`);
  }

  if (p.usesFWChain) {
    declare(p.fwChain);
    const args = `-A ${p.fwChain} -m comment --comment ${commentWord(`${spn} loadbalancer IP`)}`;
    let allowFromNode = false;
    for (const cidr of fp.sourceRanges) {
      rules.push(`${args} -s ${cidr} -j ${p.externalTrafficChain}`);
      const parsed = parseCIDR(cidr);
      if (parsed && ctx.parsedNodeIPs.some((ip) => ip !== undefined && cidrContains(parsed, ip))) allowFromNode = true;
    }
    if (allowFromNode) for (const ip of fp.lbIPs) rules.push(`${args} -s ${ip} -j ${p.externalTrafficChain}`);
    rules.push(`-A ${p.fwChain} -m comment --comment ${commentWord(`other traffic to ${spn} will be dropped by KUBE-PROXY-FIREWALL`)}`);
  }

  const epChain = (ep: LocalEndpoint) => servicePortEndpointChainName(spn, sp.protocol, endpointString(ep.address, ep.port, ep.family));
  const writeServiceToEndpointRules = (svcChain: string, endpoints: readonly LocalEndpoint[]) => {
    if (sp.affinityTimeoutSeconds !== undefined) {
      for (const ep of endpoints) {
        const c = epChain(ep);
        rules.push(
          `-A ${svcChain}${ctx.epComment(`${spn} -> ${endpointString(ep.address, ep.port, ep.family)}`)} -m recent --name ${c} --rcheck --seconds ${sp.affinityTimeoutSeconds} --reap -j ${c}`,
        );
      }
    }
    const n = endpoints.length;
    endpoints.forEach((ep, i) => {
      const c = epChain(ep);
      const stat = i < n - 1 ? ` -m statistic --mode random --probability ${formatProbability(n - i)}` : '';
      rules.push(`-A ${svcChain}${ctx.epComment(`${spn} -> ${endpointString(ep.address, ep.port, ep.family)}`)}${stat} -j ${c}`);
    });
  };

  if (p.usesClusterPolicyChain) {
    declare(p.clusterPolicyChain);
    writeServiceToEndpointRules(p.clusterPolicyChain, fp.clusterEndpoints);
  }
  if (p.usesLocalPolicyChain) {
    declare(p.localPolicyChain);
    writeServiceToEndpointRules(p.localPolicyChain, fp.localEndpoints);
  }
  for (const ep of fp.allReachable) {
    const c = epChain(ep);
    declare(c);
    const base = `-A ${c}${ctx.epComment(spn)}`;
    rules.push(`${base} -s ${ep.address} -j ${kubeMarkMasqChain}`);
    const affinity = sp.affinityTimeoutSeconds !== undefined ? ` -m recent --name ${c} --set` : '';
    rules.push(`${base}${affinity} ${m} -j DNAT --to-destination ${endpointString(ep.address, ep.port, ep.family)}`);
  }
  return { chains, rules };
}
