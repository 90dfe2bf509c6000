// The lab's fixed internal address plan, and the arithmetic that places nodes, pods and
// clients in it. Pure. These addresses exist only inside the lab's own namespaces.
//
// Defaults (N = node index from 1, M = client index from 1, K = pod slot on its node from 1):
//   shared network   10.99.0.0/24       fd00:99::/64        node N: host 10+N, client M: host 100+M
//   cluster CIDR     10.244.0.0/16      fd00:244::/48       node N's pod CIDR: subnet N (/24, /64)
//   pod CIDR         10.244.N.0/24      fd00:244:0:N::/64   gateway (node's pod bridge): host 1, pod K: host K+1
//   service CIDR     10.96.0.0/16       fd00:96::/112       not configured anywhere: ClusterIPs for tests
//   external CIDR    10.98.0.0/24       fd00:98::/112       not configured anywhere: ExternalIPs / LB IPs for tests
// In IPv6, host and subnet numbers are written with the same digits as in IPv4 (node 1 is
// 10.99.0.11 and fd00:99::11; pod CIDR 12 is 10.244.12.0/24 and fd00:244:0:12::/64), so the
// two families read alike.

import { type Cidr, type Family, cidrSize, formatCidr, nthAddress, parseCidr, subnet } from './ip.ts';
import { harnessErrorText } from '../../config/error-codes.ts';

export type { Family } from './ip.ts';

/** The IP families of a topology: one, or both (dual-stack, IPv4 primary). */
export type IpFamily = 'ipv4' | 'ipv6' | 'dual';

export interface PerFamily<T> {
  ipv4: T;
  ipv6: T;
}

export interface AddressPlan {
  /** The shared L2 network between nodes and outside clients. */
  shared: PerFamily<string>;
  /** The cluster CIDR, cut into one pod CIDR per node (what kube-proxy calls --cluster-cidr). */
  cluster: PerFamily<string>;
  /** Prefix length of each node's pod CIDR. */
  podCidrPrefix: PerFamily<number>;
  /** A range for Service ClusterIPs. Nothing is configured for it; the proxy under test answers it. */
  service: PerFamily<string>;
  /** A range for ExternalIPs and LoadBalancer IPs; clients reach it through `client.routeVia`. */
  external: PerFamily<string>;
  /** Host number of node 1 on the shared network (node N gets firstNodeHost + N - 1). */
  firstNodeHost: number;
  /** Host number of client 1 on the shared network; nodes must stay below it. */
  firstClientHost: number;
}

export interface AddressPlanOverrides {
  shared?: Partial<PerFamily<string>>;
  cluster?: Partial<PerFamily<string>>;
  podCidrPrefix?: Partial<PerFamily<number>>;
  service?: Partial<PerFamily<string>>;
  external?: Partial<PerFamily<string>>;
  firstNodeHost?: number;
  firstClientHost?: number;
}

export const DEFAULT_PLAN: AddressPlan = {
  shared: { ipv4: '10.99.0.0/24', ipv6: 'fd00:99::/64' },
  cluster: { ipv4: '10.244.0.0/16', ipv6: 'fd00:244::/48' },
  podCidrPrefix: { ipv4: 24, ipv6: 64 },
  service: { ipv4: '10.96.0.0/16', ipv6: 'fd00:96::/112' },
  external: { ipv4: '10.98.0.0/24', ipv6: 'fd00:98::/112' },
  firstNodeHost: 11,
  firstClientHost: 101,
};

export function familiesOf(family: IpFamily): Family[] {
  return family === 'dual' ? ['ipv4', 'ipv6'] : [family];
}

/** Merges overrides into the defaults and checks that the result is coherent. Throws KPNG_ERR_NETNS_PLAN. */
export function resolvePlan(overrides: AddressPlanOverrides = {}): AddressPlan {
  const pair = <T>(base: PerFamily<T>, over: Partial<PerFamily<T>> | undefined): PerFamily<T> => ({ ...base, ...over });
  const plan: AddressPlan = {
    shared: pair(DEFAULT_PLAN.shared, overrides.shared),
    cluster: pair(DEFAULT_PLAN.cluster, overrides.cluster),
    podCidrPrefix: pair(DEFAULT_PLAN.podCidrPrefix, overrides.podCidrPrefix),
    service: pair(DEFAULT_PLAN.service, overrides.service),
    external: pair(DEFAULT_PLAN.external, overrides.external),
    firstNodeHost: overrides.firstNodeHost ?? DEFAULT_PLAN.firstNodeHost,
    firstClientHost: overrides.firstClientHost ?? DEFAULT_PLAN.firstClientHost,
  };
  const fail = (message: string): never => {
    throw new Error(harnessErrorText('KPNG_ERR_NETNS_PLAN', `${message}`));
  };
  for (const family of ['ipv4', 'ipv6'] as const) {
    for (const key of ['shared', 'cluster', 'service', 'external'] as const) {
      let cidr: Cidr;
      try {
        cidr = parseCidr(plan[key][family]);
      } catch (error) {
        throw new Error(harnessErrorText('KPNG_ERR_NETNS_PLAN', `${key}.${family}: ${(error as Error).message}`), { cause: error });
      }
      if (cidr.family !== family) fail(`${key}.${family} is ${plan[key][family]}, an ${cidr.family} range`);
    }
    const cluster = parseCidr(plan.cluster[family]);
    const podPrefix = plan.podCidrPrefix[family];
    if (!Number.isInteger(podPrefix) || podPrefix <= cluster.prefix || podPrefix > (family === 'ipv4' ? 30 : 126)) {
      fail(`podCidrPrefix.${family} /${podPrefix} does not fit inside cluster ${plan.cluster[family]} with room for pods`);
    }
  }
  if (!Number.isInteger(plan.firstNodeHost) || plan.firstNodeHost < 1) fail(`firstNodeHost must be a positive integer`);
  if (!Number.isInteger(plan.firstClientHost) || plan.firstClientHost <= plan.firstNodeHost) {
    fail(`firstClientHost (${plan.firstClientHost}) must be above firstNodeHost (${plan.firstNodeHost})`);
  }
  return plan;
}

/**
 * The number used for host (or subnet) `n` in a family: `n` itself in IPv4; in IPv6 the
 * hexadecimal number written with n's decimal digits (11 → 0x11), so that both read alike.
 */
export function readableNumber(family: Family, n: number): bigint {
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a host number: ${n}`);
  return family === 'ipv4' ? BigInt(n) : BigInt(`0x${n.toString(10)}`);
}

/** An address with the prefix length of the network it sits on. */
export interface PlacedAddress {
  address: string;
  prefix: number;
  /** `address/prefix`, as `ip addr add` takes it. */
  cidr: string;
}

function place(cidr: Cidr, host: bigint, what: string): PlacedAddress {
  if (host < 1n || host >= cidrSize(cidr) - (cidr.family === 'ipv4' ? 1n : 0n)) {
    throw new Error(harnessErrorText('KPNG_ERR_NETNS_PLAN', `${what} needs host #${host}, outside ${formatCidr(cidr)}`));
  }
  const address = nthAddress(cidr, host);
  return { address, prefix: cidr.prefix, cidr: `${address}/${cidr.prefix}` };
}

/** Node N's address on the shared network. */
export function nodeAddress(plan: AddressPlan, family: Family, nodeIndex: number): PlacedAddress {
  const host = plan.firstNodeHost + nodeIndex - 1;
  if (nodeIndex < 1 || host >= plan.firstClientHost) {
    throw new Error(harnessErrorText('KPNG_ERR_NETNS_PLAN', `node #${nodeIndex} does not fit below the clients (host ${plan.firstClientHost})`));
  }
  return place(parseCidr(plan.shared[family]), readableNumber(family, host), `node #${nodeIndex}`);
}

/** Client M's address on the shared network. */
export function clientAddress(plan: AddressPlan, family: Family, clientIndex: number): PlacedAddress {
  if (clientIndex < 1) throw new Error(harnessErrorText('KPNG_ERR_NETNS_PLAN', `client index must be at least 1, got ${clientIndex}`));
  return place(parseCidr(plan.shared[family]), readableNumber(family, plan.firstClientHost + clientIndex - 1), `client #${clientIndex}`);
}

/** Node N's pod CIDR: subnet N of the cluster CIDR. */
export function podCidrFor(plan: AddressPlan, family: Family, nodeIndex: number): string {
  if (nodeIndex < 1) throw new Error(harnessErrorText('KPNG_ERR_NETNS_PLAN', `node index must be at least 1, got ${nodeIndex}`));
  try {
    return formatCidr(subnet(parseCidr(plan.cluster[family]), plan.podCidrPrefix[family], readableNumber(family, nodeIndex)));
  } catch (error) {
    throw new Error(harnessErrorText('KPNG_ERR_NETNS_PLAN', `no pod CIDR for node #${nodeIndex}: ${(error as Error).message}`), { cause: error });
  }
}

/** The gateway of a pod CIDR (the node's address on its pod bridge): its first host. */
export function podGateway(podCidr: string): PlacedAddress {
  return place(parseCidr(podCidr), 1n, `the gateway of ${podCidr}`);
}

/** The address of the pod in slot K (from 1) of a pod CIDR: host K + 1. */
export function podAddress(podCidr: string, slot: number): PlacedAddress {
  const cidr = parseCidr(podCidr);
  if (slot < 1) throw new Error(harnessErrorText('KPNG_ERR_NETNS_PLAN', `pod slot must be at least 1, got ${slot}`));
  return place(cidr, readableNumber(cidr.family, slot + 1), `pod slot #${slot}`);
}

/** The `n`-th address (from 1) of a range in the plan, e.g. a ClusterIP: `planAddress(plan.service.ipv4, 10)`. */
export function planAddress(range: string, n: number): string {
  const cidr = parseCidr(range);
  return nthAddress(cidr, readableNumber(cidr.family, n));
}
