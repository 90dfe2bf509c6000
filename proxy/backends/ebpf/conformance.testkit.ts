// The conformance suite and to-ebpf (test support, left out of the image). Socket load
// balancing hooks a cgroup, not a network namespace (the descriptor's scope says so): the
// suite runs it only where the lab gives each node a cgroup of its own, and leaves it out
// elsewhere, saying why (proxy/backends/conformance/dataplanes.ts).
import type { ConformanceHooks } from '../conformance/dataplanes.ts';

/** Per subject id (ebpfBackend.subjects): none yet. */
export const conformanceHooks: Readonly<Record<string, ConformanceHooks>> = {};
