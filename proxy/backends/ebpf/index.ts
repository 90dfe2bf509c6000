// proxy/backends/ebpf: the `to-ebpf` backend, socket load balancing through cgroup eBPF
// hooks (no per-packet NAT for the node's own processes and pods), and a small nftables
// table (inet kpng-ebpf) for traffic from other hosts.
import { described, flagBoolean, flagList, flagString, type FlagSpec, type FlagValues } from '../../cli/flags.ts';
import type { BackendContext, BackendDescriptor } from '../backend.ts';
import { checkAddressFlags, ipFamiliesFlag, masqueradeBitFlag, nodePortAddressesFlag, parseFamilies, parseMasqueradeBit } from '../common/index.ts';
import { EbpfBackend, defaultPinPath } from './backend.ts';
import { ebpfErrorText, ebpfErrors } from './errors.ts';
import { EbpfSetupError } from './kernel.ts';

export { EbpfBackend, defaultPinPath, type EbpfBackendOptions, type EbpfSyncStats } from './backend.ts';
export { Bpftool, EbpfSetupError, cgroup2Root, errEbpfSetup, hooks, pinsUnder, type Pins } from './kernel.ts';
export { MapPlanner, diff, type Entries } from './plan.ts';
export * from './maps.ts';
export { nftTable, renderExternal, renderExternalPort, fullTransaction, partialTransaction, type ExternalImage, type ExternalPart, type ExternalOptions } from './external.ts';
export { ebpfErrors, ebpfErrorText } from './errors.ts';

export const ebpfFlags: FlagSpec[] = [
  { name: 'cgroup-path', type: 'string', description: "the cgroup2 directory whose processes (and those of every cgroup below it) are load-balanced; empty: the node's cgroup2 root", default: '' },
  { name: 'pin-path', type: 'string', description: 'the folder on the bpf file system for the programs and maps', default: defaultPinPath },
  { name: 'bpf-object', type: 'string', description: 'the compiled socket-LB program; empty: the one the build made (hack/build-bpf.sh)', default: '' },
  described(
    nodePortAddressesFlag,
    "CIDRs (and/or \"primary\") whose local addresses NodePorts answer on, for the node's processes and for other hosts; empty: the node's primary IPs; 0.0.0.0/0,::/0: every local address but loopback",
  ),
  masqueradeBitFlag,
  ipFamiliesFlag,
  { name: 'dry-run', type: 'boolean', description: 'print the map updates and deletes (bpftool batch lines) and the nft transactions of table inet kpng-ebpf instead of loading anything; binds no port', default: false },
  { name: 'cleanup', type: 'boolean', description: 'detach the programs from the cgroup, remove their pins and delete table inet kpng-ebpf, then exit', default: false },
];

/** The backend a `to-ebpf` stage with these flag values runs. */
export function createEbpfBackend(v: FlagValues, ctx: BackendContext): EbpfBackend {
  const fail = (m: string) => new EbpfSetupError(ebpfErrorText('KPNG_ERR_EBPF_SETUP', m));
  const families = parseFamilies(v, fail);
  const nodePortAddresses = flagList(v, 'nodeport-addresses');
  checkAddressFlags([], nodePortAddresses, fail);
  const cgroupPath = flagString(v, 'cgroup-path');
  const objectPath = flagString(v, 'bpf-object');
  return new EbpfBackend({
    logger: ctx.logger,
    ...(ctx.run && { runner: ctx.run }),
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
export const ebpfBackend: BackendDescriptor = {
  name: 'ebpf',
  proxyMode: 'ebpf',
  summary: 'load-balance sockets of the node (cgroup eBPF hooks rewrite service addresses at connect/sendmsg; no per-packet NAT); traffic from other hosts through a small nftables table (inet kpng-ebpf)',
  flags: ebpfFlags,
  metrics: { family: 'ebpf', failures: 'none' },
  pod: {
    privileged: false,
    capabilities: ['BPF', 'NET_ADMIN', 'SYS_ADMIN'],
    reason:
      'BPF: create maps and load programs. NET_ADMIN: cgroup_sock_addr is a networking program type (loading it needs NET_ADMIN beside BPF), attaching, detaching and querying cgroup programs does too, and so does the nft table for traffic from other hosts (nf_tables, nf_nat, nf_conntrack; hostNetwork, so the table is the node\'s). SYS_ADMIN: bpftool finds the attached programs by id (BPF_PROG_GET_FD_BY_ID), which the kernel allows only to SYS_ADMIN; cleanup and the tamper check depend on it (bpffs is not mounted by the pod: the host\'s /sys/fs/bpf is). Not PERFMON: the programs read no kernel memory and are not tracing programs.',
    hostMounts: [
      { name: 'bpffs', path: '/sys/fs/bpf', type: 'Directory', readOnly: false, why: 'the programs and maps are pinned there: pins outlive the pod, so a restart finds and replaces them' },
      { name: 'cgroup', path: '/sys/fs/cgroup', type: 'Directory', readOnly: false, why: 'the cgroup2 root the socket hooks attach to (--cgroup-path names a directory below it)' },
    ],
    packages: ['bpftool', 'nftables', 'iproute2'],
  },
  proof: 'runs',
  // Socket LB hooks a cgroup, not a network namespace: a host of several nodes gives each its cgroup and its pin folder.
  scope: { kind: 'cgroup', cgroupFlag: 'cgroup-path', stateFlag: { name: 'pin-path', under: '/sys/fs/bpf' } },
  subjects: [{ id: 'ebpf', title: 'eBPF socket LB', args: [] }],
  errors: ebpfErrors,
  create: createEbpfBackend,
};
