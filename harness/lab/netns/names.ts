// Names of everything the lab creates. Pure.
//
// Every namespace is named `<prefix><role><name>` where the prefix is unique per run
// (`kt` + 4 hex digits + `-`), so a sweep can tell our namespaces from anyone else's.
// Interface names are limited to 15 characters (IFNAMSIZ - 1): the veth ends that join
// namespaces are named `<prefix><letter><index>` (e.g. `kt3f09-p12`) and the topology keeps
// the mapping to what they connect. Devices that stand for a real machine's devices keep
// the usual names inside their own namespace: `eth0` (a node's uplink, a pod's interface)
// and `cbr0` (a node's pod bridge, as kubenet names it).

import { randomBytes } from 'node:crypto';
import { harnessErrorText } from '../../config/error-codes.ts';

/** Longest interface name the kernel accepts. */
export const IFNAME_MAX = 15;

/** Matches the start of every namespace name the lab creates; group 1 is the prefix. */
export const PREFIX_PATTERN = /^(kt[0-9a-f]{4}-)/;

/** Interface names inside namespaces, fixed because each namespace has its own set. */
export const UPLINK_IFNAME = 'eth0';
export const POD_IFNAME = 'eth0';
export const POD_BRIDGE_IFNAME = 'cbr0';

export type NamespaceRole = 'net' | 'node' | 'pod' | 'client';

const ROLE_TAG: Record<Exclude<NamespaceRole, 'net'>, string> = { node: 'n-', pod: 'p-', client: 'c-' };

/** A fresh run prefix such as `kt3f09-`. `random` is injectable for tests. */
export function newPrefix(random: (bytes: number) => Uint8Array = randomBytes): string {
  const hex = Buffer.from(random(2)).toString('hex').slice(0, 4).padStart(4, '0');
  return `kt${hex}-`;
}

/** The run prefix of a namespace name, or undefined when the name is not one of ours. */
export function prefixOf(namespace: string): string | undefined {
  return PREFIX_PATTERN.exec(namespace)?.[1];
}

/** Logical names of nodes, pods and clients: DNS-label-like, at most 40 characters. */
export const LOGICAL_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

export function checkLogicalName(name: string): void {
  if (!LOGICAL_NAME_PATTERN.test(name)) {
    throw new Error(
      harnessErrorText('KPNG_ERR_NETNS_NAME', `${JSON.stringify(name)} is not a valid lab name (lowercase letters, digits and '-', 1-40 characters)`),
    );
  }
}

/** The kernel namespace name for a role and a logical name (`net` has no logical name). */
export function namespaceName(prefix: string, role: NamespaceRole, name = ''): string {
  if (!PREFIX_PATTERN.test(prefix) || prefix.length !== 7) throw new Error(`not a lab prefix: ${prefix}`);
  if (role === 'net') return `${prefix}net`;
  checkLogicalName(name);
  return `${prefix}${ROLE_TAG[role]}${name}`;
}

/** Which kind of link a generated veth name belongs to. */
export type LinkKind = 'node' | 'client' | 'pod';

const LINK_LETTER: Record<LinkKind, string> = { node: 'n', client: 'c', pod: 'p' };

/**
 * The name of a veth end: `<prefix><letter><index>`, at most 15 characters.
 * node/client: the end on the shared bridge; pod: the end on its node's pod bridge.
 */
export function vethName(prefix: string, kind: LinkKind, index: number): string {
  if (!Number.isInteger(index) || index < 1) throw new Error(`interface index must be a positive integer, got ${index}`);
  return checkIfname(`${prefix}${LINK_LETTER[kind]}${index}`);
}

/** The shared network's bridge, in the `net` namespace. */
export function sharedBridgeName(prefix: string): string {
  return checkIfname(`${prefix}br`);
}

export function checkIfname(name: string): string {
  if (name.length === 0 || name.length > IFNAME_MAX || /[\s/:]/.test(name)) {
    throw new Error(harnessErrorText('KPNG_ERR_NETNS_IFNAME', `interface name ${JSON.stringify(name)} is not valid (1-${IFNAME_MAX} characters, no '/', ':' or spaces)`));
  }
  return name;
}
