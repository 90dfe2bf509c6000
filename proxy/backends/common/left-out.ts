// One bad service port must not hold the whole node hostage. A rule backend leaves out a
// service port whose rules cannot be written safely (a value that is no IP, no protocol,
// no number: defence in depth, the model never makes one) or that the kernel's tool
// refuses (found by bisection with the tool's check mode), warns naming it, and programs
// the rest. A port left out is tried again once it changes, and at every full sync the
// runtime asks for (the periodic one).
import { deepEqual, parseCIDR, parseIP, protocols, viewWithPorts, type LocalEndpoint, type NodeView, type ServicePortState } from '../../model/index.ts';
import type { Logger } from '../../runtime/log.ts';
import { errorText, type ErrorCode } from '../../errors.ts';

export const errServicePortRefused = 'KPNG_ERR_SERVICE_PORT_REFUSED' satisfies ErrorCode;

export interface Refusal {
  /** The service port's key ("namespace/name:port"). */
  key: string;
  /** Why: the field at fault, or the tool's first error line. */
  reason: string;
}

const isInteger = (n: unknown) => typeof n === 'number' && Number.isInteger(n);

const ipv4Re = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;

/** The family of an IP address (as the model parses it), or undefined; IPv4, the common case, by one regular expression. */
function familyOf(address: string): string | undefined {
  if (typeof address !== 'string') return undefined;
  if (!address.includes(':')) return ipv4Re.test(address) ? 'IPv4' : undefined;
  return parseIP(address)?.family;
}

/**
 * Why a service port's values (other than names, which the escaping functions make safe)
 * cannot be put into rule text as they are; undefined when they can. Only the shape is
 * checked (an IP, a CIDR, a protocol, an integer): ranges are the kernel's to refuse.
 */
export function unrenderable(sp: ServicePortState): string | undefined {
  if (!protocols.includes(sp.protocol)) return `protocol ${JSON.stringify(sp.protocol)} is not one of ${protocols.join(', ')}`;
  for (const [field, n] of [['port', sp.port], ['nodePort', sp.nodePort], ['healthCheckNodePort', sp.healthCheckNodePort]] as const) {
    if (!isInteger(n)) return `${field} ${JSON.stringify(n)} is not an integer`;
  }
  if (sp.affinityTimeoutSeconds !== undefined && !isInteger(sp.affinityTimeoutSeconds)) return `affinityTimeoutSeconds ${JSON.stringify(sp.affinityTimeoutSeconds)} is not an integer`;
  for (const [field, list] of [['clusterIPs', sp.clusterIPs], ['externalIPs', sp.externalIPs], ['loadBalancerIPs', sp.loadBalancerIPs]] as const) {
    for (const ip of list) if (!familyOf(ip)) return `${field}: ${JSON.stringify(ip)} is not an IP address`;
  }
  for (const cidr of sp.loadBalancerSourceRanges) if (!parseCIDR(cidr)) return `loadBalancerSourceRanges: ${JSON.stringify(cidr)} is not a CIDR`;
  const seen = new Set<LocalEndpoint>(); // the lists share most endpoints
  for (const [field, list] of [['internalEndpoints', sp.internalEndpoints], ['externalEndpoints', sp.externalEndpoints], ['clusterEndpoints', sp.clusterEndpoints]] as const) {
    for (const ep of list) {
      if (seen.has(ep)) continue;
      seen.add(ep);
      if (familyOf(ep.address) !== ep.family) return `${field}: ${JSON.stringify(ep.address)} is not an ${ep.family} address`;
      if (!isInteger(ep.port)) return `${field}: port ${JSON.stringify(ep.port)} of ${ep.address} is not an integer`;
    }
  }
  return undefined;
}

/** `view` with only the service ports of `keys`. */
export const withPorts: (view: NodeView, keys: Iterable<string>) => NodeView = viewWithPorts;

/** The tool's verdict on the rules of some service ports: undefined when it takes them, else why not. */
export type PortsCheck = (keys: readonly string[]) => Promise<string | undefined>;

/**
 * The service ports whose rules the tool refuses, by bisection: a group the tool takes is
 * innocent, a refused group is split in two. Undefined when the refusal is no service
 * port's doing: the tool refuses the fixed rules alone, takes every port, or still refuses
 * what is left once the refused ports are out.
 */
export async function findRefused(keys: readonly string[], check: PortsCheck): Promise<Refusal[] | undefined> {
  if ((await check([])) !== undefined) return undefined;
  const search = async (group: readonly string[]): Promise<Refusal[]> => {
    const why = await check(group);
    if (why === undefined) return [];
    if (group.length === 1) return [{ key: group[0]!, reason: why }];
    const half = group.length >> 1;
    return [...(await search(group.slice(0, half))), ...(await search(group.slice(half)))];
  };
  const sorted = [...keys].sort();
  const refused = await search(sorted);
  if (refused.length === 0) return undefined;
  const out = new Set(refused.map((r) => r.key));
  if ((await check(sorted.filter((k) => !out.has(k)))) !== undefined) return undefined;
  return refused;
}

/** The first line of a tool's complaint that says something. */
export function firstErrorLine(stderr: string, exitCode: number | undefined): string {
  return stderr.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? `exit code ${exitCode ?? 'unknown'}`;
}

/** The service ports a backend leaves out, and why. */
export class LeftOut {
  readonly #ports = new Map<string, { sp: ServicePortState; reason: string; byTool: boolean }>();
  /** Service port states found renderable already (states are shared while unchanged). */
  #checked = new WeakSet<ServicePortState>();
  readonly #log: Logger;
  readonly #tool: string;

  constructor(log: Logger, tool: string) {
    this.#log = log;
    this.#tool = tool;
  }

  /** The keys left out now, sorted. */
  get keys(): string[] {
    return [...this.#ports.keys()].sort();
  }

  /** Ports the tool refused are tried again (a full sync the runtime asked for). */
  retryRefused(): void {
    for (const [key, e] of this.#ports) if (e.byTool) this.#ports.delete(key);
  }

  /**
   * `view` without the service ports left out. A port left out is tried again when it
   * changed or went away; a new or changed port that cannot be rendered is left out now.
   */
  filter(view: NodeView): NodeView {
    const state = view.state;
    for (const [key, e] of this.#ports) {
      const now = state.servicePorts.get(key);
      if (now === undefined || (now !== e.sp && !deepEqual(now, e.sp))) this.#ports.delete(key);
    }
    for (const sp of state.servicePorts.values()) {
      if (this.#checked.has(sp) || this.#ports.has(sp.key)) continue;
      const why = unrenderable(sp);
      if (why === undefined) this.#checked.add(sp);
      else this.#leaveOut(sp, why, false);
    }
    if (this.#ports.size === 0) return view;
    return withPorts(view, [...state.servicePorts.keys()].filter((k) => !this.#ports.has(k)));
  }

  /** Leaves out the ports the tool refused (of `view`). */
  refused(view: NodeView, refusals: readonly Refusal[]): void {
    for (const r of refusals) {
      const sp = view.state.servicePorts.get(r.key);
      if (sp) this.#leaveOut(sp, `${this.#tool} refused its rules: ${r.reason}`, true);
    }
  }

  #leaveOut(sp: ServicePortState, reason: string, byTool: boolean): void {
    this.#ports.set(sp.key, { sp, reason, byTool });
    this.#log.warn(errorText(errServicePortRefused, `left out service port ${JSON.stringify(sp.key)}: ${reason}; the other service ports are programmed, this one again once it changes`), {
      servicePort: sp.key,
    });
  }

  /** Forget everything (cleanup). */
  clear(): void {
    this.#ports.clear();
    this.#checked = new WeakSet();
  }
}
