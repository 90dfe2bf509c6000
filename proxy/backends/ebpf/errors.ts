// The error codes only the eBPF backend uses, with what each means and what is accepted
// (its descriptor hands them over: with proxy/errors.ts they make the one table).
import { errorTextOf, type ErrorTable } from '../../errors.ts';

export const ebpfErrors = {
  KPNG_ERR_EBPF_SETUP:
    'the eBPF backend cannot start or drive the kernel: bad options, no cgroup2 or bpf file system, bpftool missing or refused (load, attach, map write), or the compiled program missing; accepted: what the message names',
  KPNG_ERR_EBPF_ADDRESS: 'a socket-LB map key or value with an address that is not of the map’s family; accepted: a canonical address of that family',
  KPNG_ERR_EBPF_PIN_PATH: '--pin-path with white space (bpftool batch lines cannot carry it); accepted: a path without spaces',
  KPNG_ERR_EBPF_PORT: 'a socket-LB map key or value with a port out of range; accepted: an integer 1-65535',
} as const satisfies ErrorTable;

export const ebpfErrorText = errorTextOf(ebpfErrors);
