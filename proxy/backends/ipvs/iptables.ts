// The few iptables rules kube-proxy keeps in ipvs mode, as `iptables-restore --noflush`
// input for one family: masquerade marking by ipset (cluster IPs from outside the pod
// network, NodePorts, external IPs, load balancers), the hairpin masquerade, the source
// range firewall, health check node ports, the filter that keeps service addresses from
// reaching host ports, and the REJECT of service ports without endpoints. Every comment goes
// through the iptables backend's escaper.
import type { IPFamily } from '../../model/index.ts';
import { familyOfCIDR } from '../../model/index.ts';
import { commentWord } from '../iptables/escape.ts';
import { formatMark, hasJump, jumpRuleArgs, type JumpRule } from '../iptables/render.ts';
import { quote, type SavedState } from '../iptables/rules.ts';
import type { NoNodeAccess } from './plan.ts';
import * as n from './names.ts';

/** kube-proxy's iptablesJumpChain for ipvs mode, in its order (each prepended when missing). */
export const ipvsJumpRules: readonly JumpRule[] = [
  { table: 'nat', chain: 'OUTPUT', target: n.kubeServicesChain, comment: 'kubernetes service portals', extra: [] },
  { table: 'nat', chain: 'PREROUTING', target: n.kubeServicesChain, comment: 'kubernetes service portals', extra: [] },
  { table: 'nat', chain: 'POSTROUTING', target: n.kubePostroutingChain, comment: 'kubernetes postrouting rules', extra: [] },
  { table: 'filter', chain: 'FORWARD', target: n.kubeForwardChain, comment: 'kubernetes forwarding rules', extra: [] },
  { table: 'filter', chain: 'INPUT', target: n.kubeNodePortChain, comment: 'kubernetes health check rules', extra: [] },
  { table: 'filter', chain: 'INPUT', target: n.kubeProxyFirewallChain, comment: 'kube-proxy firewall rules', extra: [] },
  { table: 'filter', chain: 'FORWARD', target: n.kubeProxyFirewallChain, comment: 'kube-proxy firewall rules', extra: [] },
  { table: 'filter', chain: 'INPUT', target: n.kubeIPVSFilterChain, comment: 'kubernetes ipvs access filter', extra: [] },
  { table: 'filter', chain: 'OUTPUT', target: n.kubeIPVSOutFilterChain, comment: 'kubernetes ipvs access filter', extra: [] },
];

export interface IptablesOptions {
  family: IPFamily;
  /** --cluster-cidr (the family's first is used). */
  clusterCIDRs?: readonly string[];
  masqueradeAll?: boolean;
  masqueradeBit?: number;
  /** Which sets hold members (rules matching an empty set are left out, as kube-proxy does). */
  nonEmpty: (d: n.SetDef) => boolean;
  noNodeAccess: readonly NoNodeAccess[];
  /** A full sync's view of the kernel: only missing jump rules are inserted. Undefined: all are. */
  existing?: SavedState;
  /** Write the jump rules (full syncs). */
  jumps: boolean;
}

/** The restore input for one family. */
export function renderIpvsIptables(o: IptablesOptions): string {
  const family = o.family;
  const s = (d: n.SetDef) => n.setName(d, family);
  const c = (text: string) => `-m comment --comment ${commentWord(text)}`;
  const mark = formatMark(1 << (o.masqueradeBit ?? 14));
  const rejectWith = family === 'IPv6' ? 'icmp6-port-unreachable' : 'icmp-port-unreachable';
  const podCIDR = (o.clusterCIDRs ?? []).find((x) => familyOfCIDR(x) === family);
  const nat: string[] = [];
  const filter: string[] = [];

  nat.push(`-A ${n.kubeServicesChain} -s ${family === 'IPv6' ? '::1/128' : '127.0.0.0/8'} -j RETURN`);

  // kube-proxy's ipsetWithIptablesChain: one rule per non-empty set.
  const bySet: Array<{ d: n.SetDef; table: 'nat' | 'filter'; from: string; to: string; match: string; proto?: string }> = [
    { d: n.loopBackSet, table: 'nat', from: n.kubePostroutingChain, to: 'MASQUERADE', match: 'dst,dst,src' },
    { d: n.loadBalancerSet, table: 'nat', from: n.kubeServicesChain, to: n.kubeLoadBalancerChain, match: 'dst,dst' },
    { d: n.loadBalancerLocalSet, table: 'nat', from: n.kubeLoadBalancerChain, to: 'RETURN', match: 'dst,dst' },
    { d: n.nodePortLocalSetTCP, table: 'nat', from: n.kubeNodePortChain, to: 'RETURN', match: 'dst', proto: 'tcp' },
    { d: n.nodePortSetTCP, table: 'nat', from: n.kubeNodePortChain, to: n.kubeMarkMasqChain, match: 'dst', proto: 'tcp' },
    { d: n.nodePortLocalSetUDP, table: 'nat', from: n.kubeNodePortChain, to: 'RETURN', match: 'dst', proto: 'udp' },
    { d: n.nodePortSetUDP, table: 'nat', from: n.kubeNodePortChain, to: n.kubeMarkMasqChain, match: 'dst', proto: 'udp' },
    { d: n.nodePortLocalSetSCTP, table: 'nat', from: n.kubeNodePortChain, to: 'RETURN', match: 'dst,dst', proto: 'sctp' },
    { d: n.nodePortSetSCTP, table: 'nat', from: n.kubeNodePortChain, to: n.kubeMarkMasqChain, match: 'dst,dst', proto: 'sctp' },
    { d: n.loadBalancerFWSet, table: 'filter', from: n.kubeProxyFirewallChain, to: n.kubeSourceRangesFirewallChain, match: 'dst,dst' },
    { d: n.loadBalancerSourceCIDRSet, table: 'filter', from: n.kubeSourceRangesFirewallChain, to: 'RETURN', match: 'dst,dst,src' },
    { d: n.loadBalancerSourceIPSet, table: 'filter', from: n.kubeSourceRangesFirewallChain, to: 'RETURN', match: 'dst,dst,src' },
  ];
  for (const r of bySet) {
    if (!o.nonEmpty(r.d)) continue;
    const line = `-A ${r.from}${r.proto ? ` -p ${r.proto}` : ''} ${c(r.d.comment)} -m set --match-set ${s(r.d)} ${r.match} -j ${r.to}`;
    (r.table === 'nat' ? nat : filter).push(line);
  }

  if (o.nonEmpty(n.clusterIPSet)) {
    const args = `-A ${n.kubeServicesChain} ${c(n.clusterIPSet.comment)} -m set --match-set ${s(n.clusterIPSet)}`;
    if (o.masqueradeAll) nat.push(`${args} dst,dst -j ${n.kubeMarkMasqChain}`);
    else if (podCIDR) nat.push(`${args} dst,dst ! -s ${podCIDR} -j ${n.kubeMarkMasqChain}`);
    // Without a pod CIDR: the host's own connections from a service address (kube-ipvs0
    // holds them all, so the kernel may pick one as source) are masqueraded.
    else nat.push(`${args} src,dst -j ${n.kubeMarkMasqChain}`);
  }
  const externalIPRules = (args: string) => {
    // Traffic from off the machine (not bridged in from a pod, not from the host) stays as it is...
    nat.push(`${args} -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT`);
    // ...and so does traffic to an external IP that is one of the node's own addresses.
    nat.push(`${args} -m addrtype --dst-type LOCAL -j ACCEPT`);
  };
  if (o.nonEmpty(n.externalIPSet)) {
    const args = `-A ${n.kubeServicesChain} ${c(n.externalIPSet.comment)} -m set --match-set ${s(n.externalIPSet)} dst,dst`;
    nat.push(`${args} -j ${n.kubeMarkMasqChain}`);
    externalIPRules(args);
  }
  if (o.nonEmpty(n.externalIPLocalSet)) externalIPRules(`-A ${n.kubeServicesChain} ${c(n.externalIPLocalSet.comment)} -m set --match-set ${s(n.externalIPLocalSet)} dst,dst`);

  nat.push(`-A ${n.kubeServicesChain} -m addrtype --dst-type LOCAL -j ${n.kubeNodePortChain}`);
  nat.push(`-A ${n.kubeLoadBalancerChain} -j ${n.kubeMarkMasqChain}`);
  filter.push(`-A ${n.kubeSourceRangesFirewallChain} -j DROP`);
  for (const e of o.noNodeAccess) filter.push(`-A ${n.kubeIPVSOutFilterChain} -s ${e.ip} -m ipvs --vaddr ${e.ip} --vproto ${e.protocol} --vport ${e.port} -j DROP`);
  // Accept traffic to virtual servers, in case later rules would drop it (last in KUBE-SERVICES).
  for (const d of [n.clusterIPSet, n.loadBalancerSet]) if (o.nonEmpty(d)) nat.push(`-A ${n.kubeServicesChain} -m set --match-set ${s(d)} dst,dst -j ACCEPT`);

  filter.push(`-A ${n.kubeForwardChain} ${c('kubernetes forwarding rules')} -m mark --mark ${mark}/${mark} -j ACCEPT`);
  filter.push(`-A ${n.kubeForwardChain} ${c('kubernetes forwarding conntrack rule')} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
  filter.push(`-A ${n.kubeNodePortChain} ${c(n.healthCheckNodePortSet.comment)} -m set --match-set ${s(n.healthCheckNodePortSet)} dst -j ACCEPT`);

  // Service ports without endpoints: rejected before IPVS sees the packet (INPUT), and on
  // the host's own connections (OUTPUT), on every frontend.
  const noEndpoints = `${c(n.noEndpointsSet.comment)} -m set --match-set ${s(n.noEndpointsSet)} dst,dst -j REJECT --reject-with ${rejectWith}`;
  filter.push(`-A ${n.kubeIPVSFilterChain} ${noEndpoints}`);
  filter.push(`-A ${n.kubeIPVSOutFilterChain} ${noEndpoints}`);
  // Service addresses reach virtual servers only, never other ports of the host (kubernetes#72236).
  for (const d of [n.loadBalancerSet, n.clusterIPSet, n.externalIPSet, n.externalIPLocalSet]) filter.push(`-A ${n.kubeIPVSFilterChain} -m set --match-set ${s(d)} dst,dst -j RETURN`);
  filter.push(`-A ${n.kubeIPVSFilterChain} -m set --match-set ${s(n.healthCheckNodePortSet)} dst -j RETURN`);
  filter.push(`-A ${n.kubeIPVSFilterChain} -m conntrack --ctstate NEW -m set --match-set ${s(n.ipvsSet)} dst -j REJECT --reject-with ${rejectWith}`);

  nat.push(`-A ${n.kubePostroutingChain} -m mark ! --mark ${mark}/${mark} -j RETURN`);
  nat.push(`-A ${n.kubePostroutingChain} -j MARK --xor-mark ${mark}`);
  nat.push(`-A ${n.kubePostroutingChain} ${c('kubernetes service traffic requiring SNAT')} -j MASQUERADE --random-fully`);
  nat.push(`-A ${n.kubeMarkMasqChain} -j MARK --or-mark ${mark}`);

  const jumps = { nat: [] as string[], filter: [] as string[] };
  if (o.jumps) {
    for (const j of ipvsJumpRules) {
      if (o.existing && hasJump(o.existing, j)) continue;
      jumps[j.table as 'nat' | 'filter'].push(`-I ${j.chain} ${jumpRuleArgs(j).map(quote).join(' ')}`);
    }
  }
  const decl = (chains: readonly string[]) => chains.map((x) => `:${x} - [0:0]`);
  return [
    '*nat',
    ...decl(n.ipvsChains.nat),
    ...jumps.nat,
    ...nat,
    'COMMIT',
    '*filter',
    ...decl(n.ipvsChains.filter),
    ...jumps.filter,
    ...filter,
    'COMMIT',
    '',
  ].join('\n');
}

/** Cleanup input: our jump rules out of the built-in chains, our chains flushed and deleted (those `existing` holds). */
export function renderIptablesCleanup(existing: SavedState): string {
  const out: string[] = [];
  for (const table of ['nat', 'filter'] as const) {
    const have = new Set(existing.chains.get(table) ?? []);
    const ours = n.ipvsChains[table].filter((x) => have.has(x));
    const dels = ipvsJumpRules.filter((j) => j.table === table && hasJump(existing, j)).map((j) => `-D ${j.chain} ${jumpRuleArgs(j).map(quote).join(' ')}`);
    if (ours.length === 0 && dels.length === 0) continue;
    out.push(`*${table}`, ...ours.map((x) => `:${x} - [0:0]`), ...dels, ...ours.map((x) => `-X ${x}`), 'COMMIT');
  }
  return out.length > 0 ? `${out.join('\n')}\n` : '';
}
