// The nat and filter rules of kube-proxy's userspace mode, per family, as
// ip(6)tables-restore input. nat redirects each served frontend into its listening port:
// PREROUTING (pods, other hosts) through KUBE-PORTALS-CONTAINER and
// KUBE-NODEPORT-CONTAINER, OUTPUT (the node itself) through KUBE-PORTALS-HOST and
// KUBE-NODEPORT-HOST, with REDIRECT (the listeners bind every address of the family) but for
// the node's own UDP: REDIRECT in OUTPUT sends it to the loopback address, while the
// listener's reply leaves from the address the route to the client gives (the node's), which
// conntrack cannot match to the redirected flow, so the reply is never translated back and a
// connected socket (nc -u, a resolver) never sees it. The node's UDP to its own address (a
// NodePort) keeps that address (DNAT of the port alone), and its UDP to any other frontend
// goes to the node's IP (DNAT), as kube-proxy's userspace mode did for all host traffic.
// filter (KUBE-USERSPACE-SERVICES, from INPUT, FORWARD and OUTPUT, new connections only)
// rejects frontends without any endpoint, drops those a traffic policy leaves without
// one here, and drops LoadBalancer traffic from outside its source ranges (admitted
// sources were redirected and no longer match). Pure.
import type { IPFamily } from '../../model/index.ts';
import { commentWord } from '../iptables/escape.ts';
import type { Frontend } from './frontends.ts';

export const chains = {
  nat: ['KUBE-PORTALS-CONTAINER', 'KUBE-PORTALS-HOST', 'KUBE-NODEPORT-CONTAINER', 'KUBE-NODEPORT-HOST'],
  filter: ['KUBE-USERSPACE-SERVICES'],
} as const;

export interface JumpRule {
  table: 'nat' | 'filter';
  chain: string;
  args: string[];
}

const comment = (text: string) => ['-m', 'comment', '--comment', commentWord(text)];

/** The jumps from the built-in chains, as kube-proxy's userspace mode had them (plus the filter one). */
export const jumpRules: readonly JumpRule[] = [
  { table: 'nat', chain: 'PREROUTING', args: [...comment('handle ClusterIPs; NOTE: this must be before the NodePort rules'), '-j', 'KUBE-PORTALS-CONTAINER'] },
  { table: 'nat', chain: 'OUTPUT', args: [...comment('handle ClusterIPs; NOTE: this must be before the NodePort rules'), '-j', 'KUBE-PORTALS-HOST'] },
  { table: 'nat', chain: 'PREROUTING', args: ['-m', 'addrtype', '--dst-type', 'LOCAL', ...comment('handle service NodePorts; NOTE: this must be the last rule in the chain'), '-j', 'KUBE-NODEPORT-CONTAINER'] },
  { table: 'nat', chain: 'OUTPUT', args: ['-m', 'addrtype', '--dst-type', 'LOCAL', ...comment('handle service NodePorts; NOTE: this must be the last rule in the chain'), '-j', 'KUBE-NODEPORT-HOST'] },
  ...(['INPUT', 'FORWARD', 'OUTPUT'] as const).map((chain) => ({
    table: 'filter' as const,
    chain,
    args: ['-m', 'conntrack', '--ctstate', 'NEW', ...comment('kubernetes userspace proxy: services without endpoints, source ranges'), '-j', 'KUBE-USERSPACE-SERVICES'],
  })),
];

export interface ServedFrontend extends Frontend {
  /** The listener's port (redirected frontends). */
  proxyPort?: number;
}

export interface RenderedRules {
  nat: string[];
  filter: string[];
}

const hostMask = (family: IPFamily) => (family === 'IPv6' ? 128 : 32);

/** Where the node's own UDP to a frontend is sent: its own local address with the listener's port (NodePort), else the node's IP. */
function hostUdpTarget(family: IPFamily, f: ServedFrontend, proxyPort: number, nodeIP: string | undefined): string[] {
  if (f.kind === 'node-port') return ['-j', 'DNAT', '--to-destination', `:${proxyPort}`];
  if (nodeIP === undefined) return ['-j', 'REDIRECT', '--to-ports', String(proxyPort)];
  return ['-j', 'DNAT', '--to-destination', family === 'IPv6' ? `[${nodeIP}]:${proxyPort}` : `${nodeIP}:${proxyPort}`];
}

/**
 * The rules (`-A ...` lines) of our chains for a family's frontends. `nodePortCIDRs` limits
 * NodePorts (empty: every local address); `nodeIP` (the node's first IP of the family) is
 * where the node's own UDP to a cluster, external or load-balancer IP goes.
 */
export function renderRules(family: IPFamily, frontends: readonly ServedFrontend[], nodePortCIDRs: readonly string[], nodeIP?: string): RenderedRules {
  const nat: string[] = [];
  const filter: string[] = [];
  const line = (chain: string, ...args: string[]) => [`-A ${chain}`, ...args].join(' ');
  for (const f of frontends) {
    const proto = f.protocol.toLowerCase();
    const match = ['-p', proto, '-m', proto, '--dport', String(f.port)];
    const what = `${f.servicePort} ${f.kind}`;
    const dests = f.kind === 'node-port' ? (nodePortCIDRs.length > 0 ? nodePortCIDRs.map((c) => ['-d', c]) : [[]]) : [['-d', `${f.ip}/${hostMask(family)}`]];
    const local = f.kind === 'node-port' ? ['-m', 'addrtype', '--dst-type', 'LOCAL'] : [];
    if (f.action === 'redirect' && f.proxyPort !== undefined) {
      const to = ['-j', 'REDIRECT', '--to-ports', String(f.proxyPort)];
      const [container, host] = f.kind === 'node-port' ? chains.nat.slice(2) : chains.nat.slice(0, 2);
      const sources = f.sourceRanges.length > 0 ? f.sourceRanges.map((s) => ['-s', s]) : [[]];
      for (const d of dests) {
        for (const s of sources) nat.push(line(container!, ...comment(what), ...s, ...d, ...match, ...to));
        nat.push(line(host!, ...comment(what), ...d, ...match, ...(f.protocol === 'UDP' ? hostUdpTarget(family, f, f.proxyPort, nodeIP) : to)));
      }
      if (f.sourceRanges.length > 0) for (const d of dests) filter.push(line(chains.filter[0], ...comment(`${what} outside loadBalancerSourceRanges`), ...d, ...match, '-j', 'DROP'));
    } else {
      const verdict = f.action === 'reject' ? ['-j', 'REJECT'] : ['-j', 'DROP'];
      const why = f.action === 'reject' ? 'has no endpoints' : 'has no local endpoints';
      for (const d of dests) filter.push(line(chains.filter[0], ...comment(`${what} ${why}`), ...local, ...d, ...match, ...verdict));
    }
  }
  return { nat, filter };
}

/** restore --noflush input that (re)writes our chains whole, and inserts the given missing jumps at the top. */
export function restoreInput(rules: RenderedRules, missingJumps: readonly JumpRule[] = []): string {
  const out: string[] = [];
  for (const table of ['nat', 'filter'] as const) {
    out.push(`*${table}`, ...chains[table].map((c) => `:${c} - [0:0]`));
    // Inserted last first, so that they end up in jumpRules' order (the portals before the NodePorts).
    out.push(...missingJumps.filter((j) => j.table === table).reverse().map((j) => `-I ${j.chain} 1 ${j.args.join(' ')}`));
    out.push(...rules[table], 'COMMIT');
  }
  return out.join('\n') + '\n';
}

/** restore --noflush input that changes nothing and fails when a jump or one of `rules` is gone (`-C` lines). */
export function checkInput(rules: RenderedRules): string {
  const out: string[] = [];
  for (const table of ['nat', 'filter'] as const) {
    out.push(`*${table}`, ...jumpRules.filter((j) => j.table === table).map((j) => `-C ${j.chain} ${j.args.join(' ')}`));
    out.push(...rules[table].map((l) => l.replace(/^-A /, '-C ')), 'COMMIT');
  }
  return out.join('\n') + '\n';
}
