// proxy/backends/ebpf: the `to-ebpf` backend, socket load balancing through cgroup eBPF
// hooks (no per-packet NAT for the node's own processes and pods), and a small nftables
// table (inet kpng-ebpf) for traffic from other hosts.
import { flagBoolean, flagList, flagString, type FlagSpec, type FlagValues } from '../../cli/flags.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Backend } from '../backend.ts';
import { checkAddressFlags, checkNodePortAddresses, ipFamiliesFlag, masqueradeBitFlag, parseFamilies, parseMasqueradeBit } from '../common/index.ts';
import { EbpfBackend, defaultPinPath } from './backend.ts';
import { EbpfSetupError } from './kernel.ts';

export { EbpfBackend, defaultPinPath, type EbpfBackendOptions, type EbpfSyncStats } from './backend.ts';
export { Bpftool, EbpfSetupError, cgroup2Root, errEbpfSetup, hooks, pinsUnder, type Pins } from './kernel.ts';
export { MapPlanner, diff, type Entries } from './plan.ts';
export { ebpfView, type EbpfPortView } from './view.ts';
export * from './maps.ts';
export { nftTable, renderExternal, renderExternalPort, fullTransaction, partialTransaction, type ExternalImage, type ExternalPart, type ExternalOptions } from './external.ts';

export const ebpfFlags: FlagSpec[] = [
  { name: 'cgroup-path', type: 'string', description: "the cgroup2 directory whose processes (and those of every cgroup below it) are load-balanced; empty: the node's cgroup2 root", default: '' },
  { name: 'pin-path', type: 'string', description: 'the folder on the bpf file system for the programs and maps', default: defaultPinPath },
  { name: 'bpf-object', type: 'string', description: 'the compiled socket-LB program; empty: the one the build made (hack/build-bpf.sh)', default: '' },
  {
    name: 'nodeport-addresses',
    type: 'list',
    description: "CIDRs (and/or \"primary\") whose local addresses NodePorts answer on, for the node's processes and for other hosts; empty: the node's primary IPs; 0.0.0.0/0,::/0: every local address but loopback",
    default: [],
    check: checkNodePortAddresses,
  },
  masqueradeBitFlag,
  ipFamiliesFlag('both'),
  { name: 'dry-run', type: 'boolean', description: 'print the map updates and deletes (bpftool batch lines) and the nft transactions of table inet kpng-ebpf instead of loading anything; binds no port', default: false },
  { name: 'cleanup', type: 'boolean', description: 'detach the programs from the cgroup, remove their pins and delete table inet kpng-ebpf, then exit', default: false },
];

export function createEbpfBackend(v: FlagValues, ctx: { logger: Logger }): EbpfBackend {
  const fail = (m: string) => new EbpfSetupError(`KPNG_ERR_EBPF_SETUP: ${m}`);
  const families = parseFamilies(v, fail);
  const nodePortAddresses = flagList(v, 'nodeport-addresses');
  checkAddressFlags([], nodePortAddresses, fail);
  const cgroupPath = flagString(v, 'cgroup-path');
  const objectPath = flagString(v, 'bpf-object');
  return new EbpfBackend({
    logger: ctx.logger,
    pinPath: flagString(v, 'pin-path') || defaultPinPath,
    ...(cgroupPath && { cgroupPath }),
    ...(objectPath && { objectPath }),
    ...(families && { families }),
    nodePortAddresses,
    masqueradeBit: parseMasqueradeBit(v, fail),
    dryRun: flagBoolean(v, 'dry-run'),
  });
}

/** `to-ebpf`; /proxyMode answers "ebpf". */
export const ebpfStage = {
  name: 'to-ebpf',
  proxyMode: 'ebpf',
  summary: 'load-balance sockets of the node (cgroup eBPF hooks rewrite service addresses at connect/sendmsg; no per-packet NAT); traffic from other hosts through a small nftables table (inet kpng-ebpf)',
  flags: ebpfFlags,
  create(flags: FlagValues, ctx: { logger: Logger }): Backend {
    return createEbpfBackend(flags, ctx);
  },
  async cleanup(flags: FlagValues, ctx: { logger: Logger }): Promise<void> {
    await createEbpfBackend(flags, ctx).cleanup();
  },
};

/**
 * What the proxy's pod needs on a node to run `to-ebpf`.
 * - BPF: create maps and load programs.
 * - NET_ADMIN: cgroup_sock_addr is a networking program type (loading it needs NET_ADMIN
 *   beside BPF), and attaching/detaching cgroup programs and querying them does too.
 * - SYS_ADMIN: bpftool finds the attached programs by id (BPF_PROG_GET_FD_BY_ID), which the
 *   kernel allows only to SYS_ADMIN; cleanup and the tamper check depend on it. Mounting
 *   bpffs would too, but the host's /sys/fs/bpf is mounted into the pod instead.
 * - not PERFMON: the programs read no kernel memory and are not tracing programs.
 * - NET_ADMIN also covers the nft table for traffic from other hosts (nf_tables,
 *   nf_nat and nf_conntrack in the kernel; hostNetwork, so the table is the node's).
 * Host paths: /sys/fs/bpf (pins outlive the pod, so a restart replaces them) and
 * /sys/fs/cgroup (the cgroup2 root the hooks attach to). Packages: bpftool, nftables
 * (nft), iproute2 (ip, for --nodeport-addresses CIDRs).
 */
export const ebpfPodNeeds = {
  capabilities: ['BPF', 'NET_ADMIN', 'SYS_ADMIN'],
  hostPaths: ['/sys/fs/bpf', '/sys/fs/cgroup'],
  packages: ['bpftool', 'nftables', 'iproute2'],
} as const;
