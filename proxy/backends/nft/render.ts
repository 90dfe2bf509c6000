// The nftables renderer: the node's view → the objects of one family's table, laid out
// as kube-proxy's nftables proxier lays them out (pkg/proxy/nftables/proxier.go, GA 1.33).
// The output is split into a global part (base and dispatch chains, maps, sets) and one
// part per service port, so a partial sync renders only the service ports that changed.
// Pure: everything it needs to know about the host comes in through the options.
import { cidrContains, compareIPs, familyOfCIDR, parseCIDR, parseIP, type FamilyServicePort, type IPFamily, type LocalEndpoint, type NodeView } from '../../model/index.ts';
import { nftString } from './escape.ts';
import {
  clusterIPsCheckChain,
  clusterIPsSet,
  filterForwardChain,
  filterInputChain,
  filterOutputChain,
  filterOutputPostDNATChain,
  filterPreroutingChain,
  firewallCheckChain,
  firewallIPsMap,
  markMasqChain,
  masqueradingChain,
  natOutputChain,
  natPostroutingChain,
  natPreroutingChain,
  noEndpointNodePortsMap,
  noEndpointServicesMap,
  nodePortEndpointsCheckChain,
  nodePortIPsSet,
  rejectChain,
  serviceEndpointsCheckChain,
  serviceExternalChainNamePrefix,
  serviceIPsMap,
  serviceNodePortsMap,
  servicePortChainNameBase,
  servicePortEndpointAffinityNamePrefix,
  servicePortEndpointChainNameBase,
  servicePortEndpointChainNamePrefix,
  servicePortFirewallChainNamePrefix,
  servicePortPolicyClusterChainNamePrefix,
  servicePortPolicyLocalChainNamePrefix,
  servicesChain,
  hairpinSet,
} from './names.ts';

/** A chain and its rules (rule text after `add rule <family> kpng <chain> `). */
export interface ChainDef {
  name: string;
  /** Base chains only: "type filter hook prerouting priority -110". */
  spec?: string;
  comment?: string;
  rules: string[];
}

/** A set or map. */
export interface ContainerDef {
  kind: 'set' | 'map';
  name: string;
  /** What goes between the braces of `add set|map ... { }`, e.g. "type ipv4_addr ; comment \"x\" ;". */
  body: string;
}

/** An element of a set or map. */
export interface ElementDef {
  container: string;
  /** "172.30.0.41 . tcp . 80" */
  key: string;
  /** What follows the key: "" in a set; " : goto chain", " comment \"ns/svc:p\" : drop" in a map. */
  value: string;
}

/** What one owner (the table's fixed skeleton, or one service port) puts into a table. */
export interface Part {
  chains: ChainDef[];
  containers: ContainerDef[];
  elements: ElementDef[];
}

/** Everything in one family's table. */
export interface FamilyRender {
  family: IPFamily;
  ctx: FamilyContext;
  global: Part;
  /** By ServicePortState.key; only service ports with a cluster IP of this family. */
  ports: Map<string, Part>;
}

export interface RenderOptions {
  /** --cluster-cidr: pod traffic detection (the first CIDR of each family is used). */
  clusterCIDRs?: readonly string[];
  /** --masquerade-all */
  masqueradeAll?: boolean;
  /** --nodeport-addresses: CIDRs and/or "primary"; empty means "primary" (the node's IPs). */
  nodePortAddresses?: readonly string[];
  /** The host's interface addresses, matched against --nodeport-addresses CIDRs. */
  localAddresses?: readonly string[];
  /** nf_conntrack_tcp_be_liberal is set: INVALID packets are not dropped. */
  conntrackTCPLiberal?: boolean;
  /** Default 14 (mark 0x4000). */
  masqueradeBit?: number;
}

/** Where NodePorts answer: every local address but loopback, or the listed IPs. */
export type NodePortTargets = { matchAll: true } | { matchAll: false; ips: string[] };

/** Inputs of a family's rendering that come from outside the service port itself. */
export interface FamilyContext {
  family: IPFamily;
  /** "ip" / "ip6" in rules. */
  ipX: 'ip' | 'ip6';
  /** "ipv4_addr" / "ipv6_addr" */
  addrType: string;
  mark: string;
  masqueradeAll: boolean;
  /** The pod CIDR of this family, when --cluster-cidr names one. */
  podCIDR: string | undefined;
  /** The node's IPs of this family (loadBalancerSourceRanges that hold the node allow the VIPs as sources). */
  nodeIPs: string[];
  nodePorts: NodePortTargets;
  conntrackTCPLiberal: boolean;
}

const isLoopback = (ip: string) => ip === '::1' || ip.startsWith('127.');

/**
 * kube-proxy's NodePortAddresses for one family: "primary" (or nothing at all) means the
 * node's IPs; CIDRs select the host's addresses inside them; a /0, or a list with nothing
 * for this family, means every local address. Loopback never answers.
 */
export function nodePortTargets(view: NodeView, family: IPFamily, o: RenderOptions): NodePortTargets {
  const list = o.nodePortAddresses ?? [];
  const primary = list.length === 0 || list.includes('primary');
  const cidrs = list.filter((c) => c !== 'primary' && familyOfCIDR(c) === family).map((c) => parseCIDR(c));
  if (cidrs.some((c) => c?.prefix === 0) || (!primary && cidrs.length === 0)) return { matchAll: true };
  const ips = new Set<string>();
  if (primary) for (const ip of view.nodeIPs[family]) ips.add(ip);
  for (const a of o.localAddresses ?? []) {
    const ip = parseIP(a);
    if (ip && ip.family === family && cidrs.some((c) => c !== undefined && cidrContains(c, ip))) ips.add(a);
  }
  return { matchAll: false, ips: [...ips].filter((ip) => !isLoopback(ip)).sort(compareIPs) };
}

export function familyContext(view: NodeView, family: IPFamily, o: RenderOptions): FamilyContext {
  const v6 = family === 'IPv6';
  return {
    family,
    ipX: v6 ? 'ip6' : 'ip',
    addrType: v6 ? 'ipv6_addr' : 'ipv4_addr',
    mark: `0x${(1 << (o.masqueradeBit ?? 14)).toString(16)}`,
    masqueradeAll: o.masqueradeAll ?? false,
    podCIDR: (o.clusterCIDRs ?? []).find((c) => familyOfCIDR(c) === family),
    nodeIPs: [...view.nodeIPs[family]],
    nodePorts: nodePortTargets(view, family, o),
    conntrackTCPLiberal: o.conntrackTCPLiberal ?? false,
  };
}

/** A key that changes whenever the global part (or anything every service port depends on) would. */
export function contextKey(ctx: FamilyContext): string {
  return JSON.stringify(ctx);
}

const base = (name: string, type: 'filter' | 'nat', hook: string, priority: number, rules: string[]): ChainDef => ({
  name,
  // Numeric priorities: nft 1.0.6 accepts the name "dstnat" in the prerouting hook only.
  // dstnat is -100, srcnat 100.
  spec: `type ${type} hook ${hook} priority ${priority}`,
  rules,
});

/** The table's fixed skeleton: base chains, the dispatch and check chains, maps and sets. */
export function renderGlobal(ctx: FamilyContext): Part {
  const { ipX, addrType, mark } = ctx;
  const noLocalhost = ipX === 'ip6' ? 'ip6 daddr != ::1' : 'ip daddr != 127.0.0.0/8';
  const newJump = (c: string) => `ct state new jump ${c}`;
  const chains: ChainDef[] = [
    base(filterPreroutingChain, 'filter', 'prerouting', -110, [newJump(firewallCheckChain)]),
    base(filterInputChain, 'filter', 'input', -110, [newJump(nodePortEndpointsCheckChain), newJump(serviceEndpointsCheckChain)]),
    base(filterForwardChain, 'filter', 'forward', -110, [
      ...(ctx.conntrackTCPLiberal ? [] : ['ct state invalid drop']),
      newJump(serviceEndpointsCheckChain),
      newJump(clusterIPsCheckChain),
    ]),
    base(filterOutputChain, 'filter', 'output', -110, [newJump(serviceEndpointsCheckChain), newJump(firewallCheckChain)]),
    base(filterOutputPostDNATChain, 'filter', 'output', -90, [newJump(clusterIPsCheckChain)]),
    base(natPreroutingChain, 'nat', 'prerouting', -100, [`jump ${servicesChain}`]),
    base(natOutputChain, 'nat', 'output', -100, [`jump ${servicesChain}`]),
    base(natPostroutingChain, 'nat', 'postrouting', 100, [`jump ${masqueradingChain}`]),
    {
      name: servicesChain,
      rules: [
        `${ipX} daddr . meta l4proto . th dport vmap @${serviceIPsMap}`,
        ctx.nodePorts.matchAll
          ? `fib daddr type local ${noLocalhost} meta l4proto . th dport vmap @${serviceNodePortsMap}`
          : `${ipX} daddr @${nodePortIPsSet} meta l4proto . th dport vmap @${serviceNodePortsMap}`,
      ],
    },
    { name: serviceEndpointsCheckChain, rules: [`${ipX} daddr . meta l4proto . th dport vmap @${noEndpointServicesMap}`] },
    {
      name: nodePortEndpointsCheckChain,
      rules: [
        ctx.nodePorts.matchAll
          ? `${noLocalhost} meta l4proto . th dport vmap @${noEndpointNodePortsMap}`
          : `${ipX} daddr @${nodePortIPsSet} meta l4proto . th dport vmap @${noEndpointNodePortsMap}`,
      ],
    },
    { name: firewallCheckChain, rules: [`${ipX} daddr . meta l4proto . th dport vmap @${firewallIPsMap}`] },
    { name: clusterIPsCheckChain, rules: [`${ipX} daddr @${clusterIPsSet} reject comment "Reject traffic to invalid ports of ClusterIPs"`] },
    {
      name: masqueradingChain,
      rules: [`${ipX} saddr . ${ipX} daddr @${hairpinSet} mark set mark or ${mark}`, `mark and ${mark} == 0 return`, `mark set mark xor ${mark}`, 'masquerade fully-random'],
    },
    { name: markMasqChain, rules: [`mark set mark or ${mark}`] },
    { name: rejectChain, comment: 'helper for @no-endpoint-services / @no-endpoint-nodeports', rules: ['reject'] },
  ];
  const ipPortProto = `type ${addrType} . inet_proto . inet_service : verdict`;
  const protoPort = 'type inet_proto . inet_service : verdict';
  const containers: ContainerDef[] = [
    { kind: 'set', name: clusterIPsSet, body: `type ${addrType} ; comment "Active ClusterIPs" ;` },
    { kind: 'set', name: hairpinSet, body: `type ${addrType} . ${addrType} ; comment "endpoint . itself: an endpoint that reached itself through a Service, masqueraded" ;` },
    ...(ctx.nodePorts.matchAll ? [] : [{ kind: 'set' as const, name: nodePortIPsSet, body: `type ${addrType} ; comment "IPs that accept NodePort traffic" ;` }]),
    { kind: 'map', name: noEndpointServicesMap, body: `${ipPortProto} ; comment "vmap to drop or reject packets to services with no endpoints" ;` },
    { kind: 'map', name: noEndpointNodePortsMap, body: `${protoPort} ; comment "vmap to drop or reject packets to service nodeports with no endpoints" ;` },
    { kind: 'map', name: firewallIPsMap, body: `${ipPortProto} ; comment "destinations that are subject to LoadBalancerSourceRanges" ;` },
    { kind: 'map', name: serviceIPsMap, body: `${ipPortProto} ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ;` },
    { kind: 'map', name: serviceNodePortsMap, body: `${protoPort} ; comment "NodePort traffic" ;` },
  ];
  const elements: ElementDef[] = ctx.nodePorts.matchAll ? [] : ctx.nodePorts.ips.map((ip) => ({ container: nodePortIPsSet, key: ip, value: '' }));
  return { chains, containers, elements };
}

/**
 * How a service chain picks an endpoint (the first packet of a connection only: NAT
 * chains never see the rest of it). `targets[i]` is what is done with the packet once
 * endpoint i is picked: its DNAT statements, or a `goto` to its endpoint chain.
 *
 * kube-proxy writes `numgen random mod N vmap { 0 : goto ep0, ... }` into every service
 * chain, with an endpoint chain per endpoint: an anonymous map per Service, and ten or so
 * chains. The kernel walks every set of the table to name each new anonymous set, so
 * loading a table of many Services takes time quadratic in their number (measured on this
 * kernel, 10 endpoints each: 1,000 Services 0.9 s, 4,000 28 s, 10,000 190 s; see
 * kubernetes#139513), and nft reads every chain of the table before it sends even a
 * one-line change (1 s at 10,000 Services with their 110,000 chains). One shared map is
 * no way out: the kernel walks all its elements each time another chain's rule binds it.
 *
 * So up to `endpointRulesMax` endpoints are picked by rules, one independent draw each,
 * as iptables' statistic rules do: rule i of N goes with probability 1/(N-i), so every
 * endpoint gets 1/N, and each rule DNATs itself, without an endpoint chain (10,000
 * Services x 10 endpoints: 11,000 chains, 3 s of CPU to load, 0.2 s for a one-endpoint
 * change). Larger endpoint sets, which are few, keep kube-proxy's anonymous map and
 * endpoint chains: one draw.
 */
export function pickEndpoint(targets: readonly string[]): string[] {
  const n = targets.length;
  if (n > endpointRulesMax) return [`numgen random mod ${n} vmap { ${targets.map((t, i) => `${i} : ${t}`).join(', ')} }`];
  return targets.map((t, i) => (i < n - 1 ? `numgen random mod ${n - i} 0 ${t}` : t));
}

/** Above this many endpoints a service chain picks one through an anonymous verdict map. */
export const endpointRulesMax = 16;

/** One service port's chains, affinity sets and map elements in its family (ctx's). */
export function renderServicePort(fp: FamilyServicePort, ctx: FamilyContext): Part {
  const { family, ipX } = ctx;
  const sp = fp.sp;
  const { clusterIP, externalIPs, lbIPs, sourceRanges, clusterEndpoints, localEndpoints, hasEndpoints } = fp;
  const reachable = fp.allReachable;
  const internalPolicyLocal = sp.internalPolicyLocal;
  const externalPolicyLocal = sp.externalPolicyLocal && fp.externallyAccessible;

  const proto = sp.protocol.toLowerCase();
  const spn = sp.key;
  const chainBase = servicePortChainNameBase(sp.namespace, sp.name, proto, sp.portName);
  const clusterPolicyChain = servicePortPolicyClusterChainNamePrefix + chainBase;
  const localPolicyChain = servicePortPolicyLocalChainNamePrefix + chainBase;
  const externalTrafficChain = serviceExternalChainNamePrefix + chainBase;
  const fwChain = servicePortFirewallChainNamePrefix + chainBase;
  const epBase = (ep: LocalEndpoint) => servicePortEndpointChainNameBase(sp.namespace, sp.name, proto, sp.portName, ep.address, ep.port);
  const epChain = (ep: LocalEndpoint) => servicePortEndpointChainNamePrefix + epBase(ep);
  const affinitySet = (ep: LocalEndpoint) => servicePortEndpointAffinityNamePrefix + epBase(ep);
  const affinity = sp.affinityTimeoutSeconds !== undefined;

  const usesClusterPolicyChain = clusterEndpoints.length > 0 && fp.usesClusterEndpoints;
  const usesLocalPolicyChain = localEndpoints.length > 0 && fp.usesLocalEndpoints;
  const internalPolicyChain = internalPolicyLocal ? localPolicyChain : clusterPolicyChain;
  const hasInternalEndpoints = hasEndpoints && (!internalPolicyLocal || localEndpoints.length > 0);
  const externalPolicyChain = externalPolicyLocal ? localPolicyChain : clusterPolicyChain;
  const hasExternalEndpoints = hasEndpoints && (!externalPolicyLocal || localEndpoints.length > 0);
  const usesExternalTrafficChain = hasEndpoints && fp.externallyAccessible;
  const usesFWChain = lbIPs.length > 0 && sourceRanges.length > 0;

  let internalVerdict = '';
  let externalVerdict = '';
  if (!hasEndpoints) internalVerdict = externalVerdict = `goto ${rejectChain}`;
  else {
    if (!hasInternalEndpoints) internalVerdict = 'drop';
    if (!hasExternalEndpoints) externalVerdict = 'drop';
  }
  const commented = (verdict: string) => ` comment ${nftString(spn)} : ${verdict}`;

  const elements: ElementDef[] = [];
  const el = (container: string, key: string, value: string) => elements.push({ container, key, value });
  const ipKey = (ip: string) => `${ip} . ${proto} . ${sp.port}`;

  el(clusterIPsSet, clusterIP, '');
  if (hasInternalEndpoints) el(serviceIPsMap, ipKey(clusterIP), ` : goto ${internalPolicyChain}`);
  else el(noEndpointServicesMap, ipKey(clusterIP), commented(internalVerdict));
  for (const ip of externalIPs) {
    if (hasEndpoints) el(serviceIPsMap, ipKey(ip), ` : goto ${externalTrafficChain}`);
    if (!hasExternalEndpoints) el(noEndpointServicesMap, ipKey(ip), commented(externalVerdict));
  }
  for (const ip of lbIPs) {
    if (hasEndpoints) el(serviceIPsMap, ipKey(ip), ` : goto ${externalTrafficChain}`);
    if (usesFWChain) el(firewallIPsMap, ipKey(ip), ` : goto ${fwChain}`);
  }
  if (!hasExternalEndpoints) for (const ip of lbIPs) el(noEndpointServicesMap, ipKey(ip), commented(externalVerdict));
  if (sp.nodePort !== 0) {
    const key = `${proto} . ${sp.nodePort}`;
    if (hasEndpoints) el(serviceNodePortsMap, key, ` : goto ${externalTrafficChain}`);
    if (!hasExternalEndpoints) el(noEndpointNodePortsMap, key, commented(externalVerdict));
  }

  const chains = new Map<string, ChainDef>();
  const chain = (name: string): ChainDef => {
    let c = chains.get(name);
    if (!c) chains.set(name, (c = { name, rules: [] }));
    return c;
  };
  // Declaration order: policy chains, external, firewall, then the endpoints.
  if (usesClusterPolicyChain) chain(clusterPolicyChain);
  if (usesLocalPolicyChain) chain(localPolicyChain);
  if (usesExternalTrafficChain) chain(externalTrafficChain);
  if (usesFWChain) chain(fwChain);

  if (hasInternalEndpoints) {
    const match = `${ipX} daddr ${clusterIP} ${proto} dport ${sp.port}`;
    if (ctx.masqueradeAll) chain(internalPolicyChain).rules.push(`${match} jump ${markMasqChain}`);
    else if (ctx.podCIDR !== undefined) chain(internalPolicyChain).rules.push(`${match} ${ipX} saddr != ${ctx.podCIDR} jump ${markMasqChain}`);
  }

  if (usesExternalTrafficChain) {
    const ext = chain(externalTrafficChain).rules;
    if (!externalPolicyLocal) ext.push(`jump ${markMasqChain}`);
    else {
      if (ctx.podCIDR !== undefined) ext.push(`${ipX} saddr ${ctx.podCIDR} goto ${clusterPolicyChain} comment "short-circuit pod traffic"`);
      ext.push(`fib saddr type local jump ${markMasqChain} comment "masquerade local traffic"`);
      ext.push(`fib saddr type local goto ${clusterPolicyChain} comment "short-circuit local traffic"`);
    }
    if (hasExternalEndpoints) ext.push(`goto ${externalPolicyChain}`);
  }

  if (usesFWChain) {
    const sources = [...sourceRanges];
    const nodeIPs = ctx.nodeIPs.map((ip) => parseIP(ip)).filter((ip) => ip !== undefined);
    const allowFromNode = sourceRanges.some((c) => {
      const cidr = parseCIDR(c);
      return cidr !== undefined && nodeIPs.some((ip) => cidrContains(cidr, ip));
    });
    if (allowFromNode) sources.push(...lbIPs);
    chain(fwChain).rules.push(`${ipX} saddr != { ${sources.join(', ')} } drop`);
  }

  const containers: ContainerDef[] = [];
  if (affinity) {
    for (const ep of reachable) {
      containers.push({ kind: 'set', name: affinitySet(ep), body: `type ${ctx.addrType} ; flags dynamic,timeout ; timeout ${sp.affinityTimeoutSeconds}s ;` });
    }
  }

  // What is done with a packet once endpoint `ep` is picked: DNAT to it (remembering the
  // client for affinity). Hairpin traffic (an endpoint reaching itself) is masqueraded by
  // the masquerading chain, which finds it in @hairpin-endpoints.
  const dnat = (ep: LocalEndpoint) => {
    const dest = family === 'IPv6' ? `[${ep.address}]:${ep.port}` : `${ep.address}:${ep.port}`;
    return `meta l4proto ${proto} ${affinity ? `update @${affinitySet(ep)} { ${ipX} saddr } ` : ''}dnat to ${dest}`;
  };
  const toEndpoints = (svcChain: string, endpoints: readonly LocalEndpoint[]) => {
    const viaChains = endpoints.length > endpointRulesMax;
    const target = (ep: LocalEndpoint) => {
      if (!viaChains) return dnat(ep);
      const c = chain(epChain(ep));
      if (c.rules.length === 0) c.rules.push(dnat(ep));
      return `goto ${c.name}`;
    };
    const rules = chain(svcChain).rules;
    if (affinity) for (const ep of endpoints) rules.push(`${ipX} saddr @${affinitySet(ep)} ${target(ep)}`);
    rules.push(...pickEndpoint(endpoints.map(target)));
  };
  if (usesClusterPolicyChain) toEndpoints(clusterPolicyChain, clusterEndpoints);
  if (usesLocalPolicyChain) toEndpoints(localPolicyChain, localEndpoints);
  for (const ep of reachable) el(hairpinSet, `${ep.address} . ${ep.address}`, '');

  return { chains: [...chains.values()], containers, elements };
}

/** Every object of one family's table for `view`. */
export function renderFamily(view: NodeView, family: IPFamily, o: RenderOptions): FamilyRender {
  const ctx = familyContext(view, family, o);
  const ports = new Map<string, Part>();
  const keys = [...view.families[family].servicePorts.keys()].sort();
  for (const key of keys) ports.set(key, renderServicePort(view.families[family].servicePorts.get(key)!, ctx));
  return { family, ctx, global: renderGlobal(ctx), ports };
}
