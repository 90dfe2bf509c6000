// The backends the proxy offers: one line each. The CLI (`to-<name>`, `kpng backends`),
// the runtime's metrics, the image's packages, the conformance suite, the benchmarks and
// the harness (through `kpng backends --json`) all read this list.
//
// Adding a backend: a folder proxy/backends/<name> whose index.ts exports a
// BackendDescriptor (proxy/backends/backend.ts) named `<name>`, and its line below.
import type { BackendDescriptor } from './backend.ts';
import { iptablesBackend } from './iptables/index.ts';
import { nftBackend } from './nft/index.ts';
import { ipvsBackend } from './ipvs/index.ts';
import { userspaceBackend } from './userspace/index.ts';
import { ebpfBackend } from './ebpf/index.ts';

// One entry per line: registering a backend adds its import and its line.
export const registeredBackends: readonly BackendDescriptor[] = [
  iptablesBackend,
  nftBackend,
  ipvsBackend,
  userspaceBackend,
  ebpfBackend,
];

/** The registered backend of this name, or undefined. */
export function backendNamed(name: string): BackendDescriptor | undefined {
  return registeredBackends.find((d) => d.name === name);
}
