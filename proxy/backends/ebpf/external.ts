// External traffic (from other hosts) for the eBPF backend: a small nftables table,
// `inet kpng-ebpf`, that DNATs packets to NodePorts, external IPs and LoadBalancer IPs,
// drops what loadBalancerSourceRanges do not admit, and masquerades Cluster-policy
// traffic so replies come back through this node. The node's own processes never reach
// it (the socket hooks rewrite their connects), except for LoadBalancer IPs with source
// ranges: a socket has no source address at connect time, so the output hook serves them.
//
// Why nftables and not tc (cls_bpf direct action) programs: this kernel offers the
// conntrack kfuncs (bpf_skb_ct_lookup/alloc, bpf_ct_set_nat_info), but a NAT set through
// them is carried out by nf_nat when the packet goes on through netfilter: the same
// conntrack and NAT machinery these rules use, with more code. A tc program doing the
// rewrite itself must keep its own reverse-NAT state for the replies (and see them on
// every interface, including a local endpoint's replies that never cross tc ingress),
// allocate masquerade ports without colliding with conntrack's, fix L4 checksums (UDP's
// optional zero checksum in IPv4, mandatory in IPv6), and handle fragments (no ports
// after the first) and ICMP errors (the inner header). Conntrack does all of that already.
//
// Layout, per family F (4 or 6); every Service's share is map and set elements plus at
// most two chains of its own, so a partial sync touches only those:
//   external{F}: address . proto . port -> goto ext chain | drop   (nat prerouting)
//   nodeports{F}: proto . port -> same                   (nat prerouting, to node-port-ips{F})
//   local{F}: LB address . proto . port -> goto chain     (nat output: source-ranged LB IPs)
//   no-endpoints{F}, no-endpoint-nodeports{F}: -> goto refuse   (filter prerouting and
//     output: a reject in a nat chain sends nothing, so refusals happen before NAT)
//   firewall{F}, allowed{F}: LB frontends with source ranges, and frontend . admitted range
//   ext{F}-…, loc{F}-…: a service port's chains; ep{F}-…: an endpoint's, above 16 endpoints
//   aff{F}-…: ClientIP affinity, a set per endpoint of the clients sent there (timeout: the
//     Service's), looked up before the random pick and refreshed by each new connection
//     (kube-proxy's nftables layout). The kernel fills them: the tamper check counts no
//     elements in them, and a full sync with the same skeleton keeps them (rewrite).
import { cidrContains, compareIPs, formatIP, parseCIDR, parseIP, sortedServicePorts, type IPFamily, type LocalEndpoint, type NodeView, type ServicePortState } from '../../model/index.ts';
import { hashName } from '../common/index.ts';
import { nameText } from '../nft/escape.ts';
import { endpointRulesMax, nodePortTargets, pickEndpoint, type NodePortTargets } from '../nft/render.ts';

export const nftTable = 'inet kpng-ebpf';

export interface ExternalOptions {
  families: readonly IPFamily[];
  /** --nodeport-addresses: CIDRs and/or "primary"; empty: the node's IPs. */
  nodePortAddresses?: readonly string[];
  /** The host's interface addresses (for --nodeport-addresses CIDRs). */
  localAddresses?: readonly string[];
  /** Default 14 (mark 0x4000). */
  masqueradeBit?: number;
}

export interface ExternalContext {
  families: readonly IPFamily[];
  mark: string;
  nodePorts: Partial<Record<IPFamily, NodePortTargets>>;
}

/**
 * What one service port puts into the table: chains (name -> rules), affinity sets (name ->
 * declaration body; the name says everything the body does) and elements ("container\tkey"
 * -> " : verdict" or "").
 */
export interface ExternalPart {
  chains: Map<string, string[]>;
  sets: Map<string, string>;
  elements: Map<string, string>;
}

export interface ExternalImage {
  ctx: ExternalContext;
  /** The skeleton: declarations and base chains, as transaction lines. */
  skeleton: string[];
  ports: Map<string, ExternalPart>;
}

const suffix = (f: IPFamily) => (f === 'IPv4' ? '4' : '6');
const ipX = (f: IPFamily) => (f === 'IPv4' ? 'ip' : 'ip6');
const addrType = (f: IPFamily) => (f === 'IPv4' ? 'ipv4_addr' : 'ipv6_addr');
const isLoopback = (ip: string) => ip === '::1' || ip.startsWith('127.');

export function externalContext(view: NodeView, o: ExternalOptions): ExternalContext {
  const nodePorts: Partial<Record<IPFamily, NodePortTargets>> = {};
  for (const f of o.families) nodePorts[f] = nodePortTargets(view, f, { nodePortAddresses: o.nodePortAddresses ?? [], localAddresses: o.localAddresses ?? [] });
  return { families: o.families, mark: `0x${(1 << (o.masqueradeBit ?? 14)).toString(16)}`, nodePorts };
}

/** The addresses a NodePort answers on in a family, for the socket hooks (matchAll: every local address but loopback). */
export function nodePortIPs(ctx: ExternalContext, family: IPFamily, localAddresses: readonly string[]): string[] {
  const t = ctx.nodePorts[family];
  if (!t) return [];
  if (!t.matchAll) return t.ips;
  return [...new Set(localAddresses.filter((a) => parseIP(a)?.family === family && !isLoopback(a)))].sort(compareIPs);
}

/** Declarations and base chains (the part that changes only with the families, the mark or the NodePort addresses). */
export function renderSkeleton(ctx: ExternalContext): string[] {
  const t = nftTable;
  const out = [`add table ${t} { comment "kpng ebpf backend: traffic from other hosts to NodePorts, external and LoadBalancer IPs" ; }`];
  const chain = (name: string, spec: string) => out.push(`add chain ${t} ${name} { ${spec} ; }`);
  chain('filter-prerouting', 'type filter hook prerouting priority -110');
  chain('filter-output', 'type filter hook output priority -110');
  chain('nat-prerouting', 'type nat hook prerouting priority -100');
  chain('nat-output', 'type nat hook output priority -100');
  chain('nat-postrouting', 'type nat hook postrouting priority 100');
  out.push(`add chain ${t} refuse`, `add rule ${t} refuse reject`);
  for (const f of ctx.families) {
    const s = suffix(f);
    const x = ipX(f);
    const a = addrType(f);
    const frontend = `${a} . inet_proto . inet_service`;
    out.push(
      `add map ${t} external${s} { type ${frontend} : verdict ; }`,
      `add map ${t} nodeports${s} { type inet_proto . inet_service : verdict ; }`,
      `add map ${t} local${s} { type ${frontend} : verdict ; }`,
      `add set ${t} firewall${s} { type ${frontend} ; }`,
      `add set ${t} allowed${s} { type ${frontend} . ${a} ; flags interval ; }`,
    );
    out.push(`add map ${t} no-endpoints${s} { type ${frontend} : verdict ; }`, `add map ${t} no-endpoint-nodeports${s} { type inet_proto . inet_service : verdict ; }`);
    const np = ctx.nodePorts[f];
    const toNodePort = np?.matchAll ? `fib daddr type local ${x} daddr != ${f === 'IPv4' ? '127.0.0.0/8' : '::1'}` : `${x} daddr @node-port-ips${s}`;
    if (!np?.matchAll) {
      out.push(`add set ${t} node-port-ips${s} { type ${a} ; }`);
      if (np && np.ips.length > 0) out.push(`add element ${t} node-port-ips${s} { ${np.ips.join(', ')} }`);
    }
    const fw = `ct state new ${x} daddr . meta l4proto . th dport @firewall${s} ${x} daddr . meta l4proto . th dport . ${x} saddr != @allowed${s} drop`;
    const noEndpoints = `ct state new ${x} daddr . meta l4proto . th dport vmap @no-endpoints${s}`;
    out.push(`add rule ${t} filter-prerouting ${fw}`, `add rule ${t} filter-prerouting ${noEndpoints}`, `add rule ${t} filter-prerouting ct state new ${toNodePort} meta l4proto . th dport vmap @no-endpoint-nodeports${s}`);
    out.push(`add rule ${t} filter-output ${fw}`, `add rule ${t} filter-output ${noEndpoints}`);
    out.push(`add rule ${t} nat-prerouting ${x} daddr . meta l4proto . th dport vmap @external${s}`);
    out.push(`add rule ${t} nat-prerouting ${toNodePort} meta l4proto . th dport vmap @nodeports${s}`);
    out.push(`add rule ${t} nat-output ${x} daddr . meta l4proto . th dport vmap @local${s}`);
  }
  out.push(`add rule ${t} nat-postrouting meta mark & ${ctx.mark} == ${ctx.mark} meta mark set meta mark xor ${ctx.mark} masquerade fully-random`);
  return out;
}

/** A CIDR with its host bits cleared ("192.168.60.2/24" -> "192.168.60.0/24"), as nft wants it. */
function network(cidr: string): string | undefined {
  const c = parseCIDR(cidr);
  if (!c) return undefined;
  const bytes = Uint8Array.from(c.bytes);
  for (let bit = c.prefix; bit < bytes.length * 8; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return `${formatIP({ family: c.family, bytes })}/${c.prefix}`;
}

/** Ranges without those another one holds (overlapping intervals in one concatenated set are refused). */
function outermost(cidrs: readonly string[]): string[] {
  const nets = [...new Set(cidrs.map(network).filter((c): c is string => c !== undefined))];
  const parsed = nets.map((c) => parseCIDR(c)!);
  return nets.filter((_, i) => !parsed.some((o, j) => j !== i && o.prefix <= parsed[i]!.prefix && cidrContains(o, { family: o.family, bytes: parsed[i]!.bytes }) && (o.prefix < parsed[i]!.prefix || j < i)));
}

/** The chain names of a service port in a family: ext (from other hosts), loc (the node's processes to source-ranged LB IPs). */
export function portChainName(kind: 'ext' | 'loc', sp: ServicePortState, family: IPFamily): string {
  return `${kind}${suffix(family)}-${hashName(`${family}/${sp.key}/${sp.protocol}`, 8)}-${nameText(`${sp.namespace}/${sp.name}/${sp.portName}`).slice(0, 60)}`;
}

/**
 * The names of an endpoint's objects: `ep` its chain (above 16 endpoints), `aff` its affinity
 * set. The timeout is in the hash: a new timeout is a new set (the kernel cannot redefine one),
 * and the chains naming it are rewritten.
 */
export function endpointObjectName(kind: 'ep' | 'aff', sp: ServicePortState, family: IPFamily, e: LocalEndpoint): string {
  const timeout = kind === 'aff' ? `/${sp.affinityTimeoutSeconds ?? 0}` : '';
  const hash = hashName(`${family}/${sp.key}/${sp.protocol}/${e.address}/${e.port}${timeout}`, 8);
  return `${kind}${suffix(family)}-${hash}-${nameText(`${sp.namespace}/${sp.name}/${sp.portName}`).slice(0, 60)}__${nameText(e.address)}/${e.port}`;
}

/** Service port `key`'s chains, affinity sets and elements, in every family; undefined when it has no external frontend. */
export function renderExternalPort(node: NodeView, key: string, ctx: ExternalContext): ExternalPart | undefined {
  const part: ExternalPart = { chains: new Map(), sets: new Map(), elements: new Map() };
  for (const family of ctx.families) {
    const view = node.families[family].servicePorts.get(key);
    if (!view || !view.externallyAccessible) continue;
    const sp = view.sp;
    const proto = sp.protocol.toLowerCase();
    const s = suffix(family);
    const x = ipX(family);
    const el = (container: string, key: string, value = '') => part.elements.set(`${container}${s}\t${key}`, value);
    const affinity = sp.affinityTimeoutSeconds !== undefined;
    const affinitySet = (e: LocalEndpoint) => {
      const name = endpointObjectName('aff', sp, family, e);
      part.sets.set(name, `type ${addrType(family)} ; flags dynamic,timeout ; timeout ${sp.affinityTimeoutSeconds}s ;`);
      return name;
    };
    // DNAT to the endpoint, remembering the client for affinity.
    const dnat = (e: LocalEndpoint) => `meta l4proto ${proto} ${affinity ? `update @${affinitySet(e)} { ${x} saddr } ` : ''}dnat ${x} to ${family === 'IPv6' ? `[${e.address}]` : e.address}:${e.port}`;
    const toEndpoints = (name: string, eps: readonly LocalEndpoint[], masquerade: boolean): string => {
      // Above endpointRulesMax the pick is one verdict map: a verdict per endpoint, its chain.
      const viaChains = eps.length > endpointRulesMax;
      const target = (e: LocalEndpoint) => {
        if (!viaChains) return dnat(e);
        const chain = endpointObjectName('ep', sp, family, e);
        part.chains.set(chain, [dnat(e)]);
        return `goto ${chain}`;
      };
      const sticky = affinity ? eps.map((e) => `${x} saddr @${affinitySet(e)} ${target(e)}`) : [];
      part.chains.set(name, [...(masquerade ? [`meta mark set meta mark or ${ctx.mark}`] : []), ...sticky, ...pickEndpoint(eps.map(target))]);
      return ` : goto ${name}`;
    };
    const local = sp.externalPolicyLocal;
    const extEps = view.externalTrafficEndpoints;
    // No endpoint anywhere: refused (as kube-proxy does); none on this node under policy Local: dropped.
    const external = extEps.length === 0 ? ' : drop' : toEndpoints(portChainName('ext', sp, family), extEps, !local);
    const frontend = (ip: string) => `${ip} . ${proto} . ${sp.port}`;
    const [ipMap, portMap] = view.hasEndpoints ? ['external', 'nodeports'] : ['no-endpoints', 'no-endpoint-nodeports'];
    const verdict = view.hasEndpoints ? external : ' : goto refuse';
    for (const ip of [...view.externalIPs, ...view.lbIPs]) el(ipMap, frontend(ip), verdict);
    const np = ctx.nodePorts[family];
    if (sp.nodePort !== 0 && np && (np.matchAll || np.ips.length > 0)) el(portMap, `${proto} . ${sp.nodePort}`, verdict);
    if (view.lbIPs.length === 0 || view.sourceRanges.length === 0) continue;
    // loadBalancerSourceRanges: first packets from outside the ranges are dropped. A range
    // holding a node IP lets the LB IPs themselves in as sources too (kube-proxy does).
    const nodeIPs = np && !np.matchAll ? np.ips.map((ip) => parseIP(ip)!) : [];
    const ranges = outermost(view.sourceRanges);
    const fromNode = ranges.some((r) => nodeIPs.some((ip) => cidrContains(parseCIDR(r)!, ip)));
    for (const ip of view.lbIPs) {
      el('firewall', frontend(ip));
      for (const r of ranges) el('allowed', `${frontend(ip)} . ${r}`);
      if (fromNode) for (const src of view.lbIPs) if (!ranges.some((r) => cidrContains(parseCIDR(r)!, parseIP(src)!))) el('allowed', `${frontend(ip)} . ${src}`);
    }
    // The node's own processes: the socket hooks leave these LB IPs alone, the output hook
    // sends them to the cluster-wide endpoints, masqueraded (kube-proxy's local short circuit).
    const clusterEps = view.clusterEndpoints;
    if (!view.hasEndpoints) continue; // refused by no-endpoints{F} in filter-output
    const toLocal = clusterEps.length === 0 ? ' : drop' : local ? toEndpoints(portChainName('loc', sp, family), clusterEps, true) : external;
    for (const ip of view.lbIPs) el('local', frontend(ip), toLocal);
  }
  return part.elements.size > 0 ? part : undefined;
}

export function renderExternal(view: NodeView, o: ExternalOptions): ExternalImage {
  const ctx = externalContext(view, o);
  const ports = new Map<string, ExternalPart>();
  for (const sp of sortedServicePorts(view.state)) {
    const part = renderExternalPort(view, sp.key, ctx);
    if (part) ports.set(sp.key, part);
  }
  return { ctx, skeleton: renderSkeleton(ctx), ports };
}

const chainLines = (name: string, rules: readonly string[]) => [`add chain ${nftTable} ${name}`, ...rules.map((r) => `add rule ${nftTable} ${name} ${r}`)];
const elementLine = (verb: 'add' | 'delete', ek: string, value: string) => {
  const [container, key] = ek.split('\t') as [string, string];
  return `${verb} element ${nftTable} ${container} { ${key}${verb === 'add' ? value : ''} }`;
};

const setLine = (name: string, body: string) => `add set ${nftTable} ${name} { ${body} }`;
/** The names of the skeleton's chains, and of its sets and maps. */
const skeletonNames = (skeleton: readonly string[], what: RegExp) => skeleton.map((l) => what.exec(l)?.[1]).filter((n): n is string => n !== undefined);

/** The table as last applied (the kernel holds it): its skeleton and its service ports' parts. */
export interface AppliedTable {
  skeleton: readonly string[];
  ports: ReadonlyMap<string, ExternalPart>;
}

/**
 * The whole table in one transaction. Two service ports claiming one frontend: the first
 * (in key order) has it.
 *
 * - replace (nothing trusted is known of the kernel's table: the first sync, after tampering
 *   or a failure, or a new skeleton): `add table` + `delete table` + the whole table, so
 *   whatever else was there is gone.
 * - rewrite (`applied` is what the kernel holds, with this skeleton): every chain flushed and
 *   rewritten, every map and set emptied and refilled, the chains no longer used deleted, and
 *   the affinity sets kept, so ClientIP affinity survives a full sync.
 */
export function fullTransaction(image: ExternalImage, applied?: AppliedTable): { text: string; owners: Map<string, string>; rewrite: boolean } {
  const rewrite = applied !== undefined && applied.skeleton.length === image.skeleton.length && applied.skeleton.every((l, i) => l === image.skeleton[i]);
  const lines: string[] = [];
  if (!rewrite) lines.push(`add table ${nftTable}`, `delete table ${nftTable}`);
  else {
    const chains = [...skeletonNames(applied.skeleton, /^add chain \S+ \S+ (\S+)/), ...[...applied.ports.values()].flatMap((p) => [...p.chains.keys()])];
    const containers = skeletonNames(applied.skeleton, /^add ((?:map|set) \S+ \S+ \S+)/);
    lines.push(`add table ${nftTable}`, ...chains.map((c) => `flush chain ${nftTable} ${c}`), ...containers.map((c) => `flush ${c}`));
    const wantedChains = new Set([...image.ports.values()].flatMap((p) => [...p.chains.keys()]));
    const wantedSets = new Set([...image.ports.values()].flatMap((p) => [...p.sets.keys()]));
    for (const p of applied.ports.values()) {
      for (const c of p.chains.keys()) if (!wantedChains.has(c)) lines.push(`delete chain ${nftTable} ${c}`);
      for (const name of p.sets.keys()) if (!wantedSets.has(name)) lines.push(`delete set ${nftTable} ${name}`);
    }
  }
  lines.push(...image.skeleton);
  const owners = new Map<string, string>();
  const elements: string[] = [];
  for (const [key, part] of image.ports) {
    for (const [name, body] of part.sets) lines.push(setLine(name, body));
    for (const [name, rules] of part.chains) lines.push(...chainLines(name, rules));
    for (const [ek, value] of part.elements) {
      if (owners.has(ek)) continue;
      owners.set(ek, key);
      elements.push(elementLine('add', ek, value));
    }
  }
  return { text: [...lines, ...elements].join('\n') + '\n', owners, rewrite };
}

/**
 * Service ports `keys` from `before` to `after`: only their changed elements and chains.
 * `owners` (element -> service port) is updated in place once the text is applied.
 */
export function partialTransaction(
  before: ReadonlyMap<string, ExternalPart>,
  after: ReadonlyMap<string, ExternalPart>,
  keys: Iterable<string>,
  owners: ReadonlyMap<string, string>,
): { text: string; commit(owners: Map<string, string>): void } {
  const delElements: string[] = [];
  const addSets: string[] = [];
  const addChains: string[] = [];
  const addElements: string[] = [];
  const flushChains: string[] = [];
  const delChains: string[] = [];
  const delSets: string[] = [];
  const gained: [string, string][] = [];
  const lost: string[] = [];
  for (const key of keys) {
    const old = before.get(key);
    const now = after.get(key);
    for (const [ek, value] of old?.elements ?? []) {
      if (owners.get(ek) !== key) continue;
      if (now?.elements.get(ek) === value) continue;
      delElements.push(elementLine('delete', ek, value));
      lost.push(ek);
    }
    for (const [ek, value] of now?.elements ?? []) {
      const owner = owners.get(ek);
      if (owner !== undefined && owner !== key) continue;
      if (owner === key && old?.elements.get(ek) === value) continue;
      addElements.push(elementLine('add', ek, value));
      gained.push([ek, key]);
    }
    // An affinity set's name says all its declaration does: one kept keeps what it learnt.
    for (const [name, body] of now?.sets ?? []) if (!old?.sets.has(name)) addSets.push(setLine(name, body));
    for (const name of old?.sets.keys() ?? []) if (!now?.sets.has(name)) delSets.push(`delete set ${nftTable} ${name}`);
    for (const [name, rules] of now?.chains ?? []) {
      const was = old?.chains.get(name);
      if (was && was.length === rules.length && was.every((r, i) => r === rules[i])) continue;
      addChains.push(`add chain ${nftTable} ${name}`, `flush chain ${nftTable} ${name}`, ...rules.map((r) => `add rule ${nftTable} ${name} ${r}`));
    }
    // Every chain going is emptied before any is deleted (a service chain jumps to endpoint chains).
    for (const name of old?.chains.keys() ?? []) {
      if (now?.chains.has(name)) continue;
      flushChains.push(`flush chain ${nftTable} ${name}`);
      delChains.push(`delete chain ${nftTable} ${name}`);
    }
  }
  const lines = [...delElements, ...addSets, ...addChains, ...addElements, ...flushChains, ...delChains, ...delSets];
  return {
    text: lines.length > 0 ? lines.join('\n') + '\n' : '',
    commit(o) {
      for (const ek of lost) o.delete(ek);
      for (const [ek, key] of gained) o.set(ek, key);
    },
  };
}

/** Rules per chain and elements per set or map the table should hold (for the tamper check). */
export function expectedCounts(skeleton: readonly string[], ports: ReadonlyMap<string, ExternalPart>, owners: ReadonlyMap<string, string>): { rules: Map<string, number>; elements: Map<string, number> } {
  const rules = new Map<string, number>();
  const elements = new Map<string, number>();
  for (const line of skeleton) {
    const r = /^add rule \S+ \S+ (\S+) /.exec(line);
    if (r) rules.set(r[1]!, (rules.get(r[1]!) ?? 0) + 1);
    const c = /^add (?:chain|map|set) \S+ \S+ (\S+)/.exec(line);
    if (c && !line.startsWith('add chain')) elements.set(c[1]!, elements.get(c[1]!) ?? 0);
    else if (c && !rules.has(c[1]!)) rules.set(c[1]!, 0);
    const e = /^add element \S+ \S+ (\S+) \{ (.*) \}$/.exec(line);
    if (e) elements.set(e[1]!, (elements.get(e[1]!) ?? 0) + e[2]!.split(',').length);
  }
  // Affinity sets are left out: the kernel fills them.
  for (const part of ports.values()) for (const [name, list] of part.chains) rules.set(name, list.length);
  for (const ek of owners.keys()) {
    const container = ek.slice(0, ek.indexOf('\t'));
    elements.set(container, (elements.get(container) ?? 0) + 1);
  }
  return { rules, elements };
}
