// The netns lab: a small Kubernetes-like cluster made of network namespaces on one
// machine, for the netns test tier and the docker-free lab. Needs root.
//
//   const t = await createTopology({
//     family: 'dual',                       // 'ipv4' | 'ipv6' | 'dual' (IPv4 primary)
//     nodes: ['node-1', 'node-2'],
//     pods: [{ name: 'pod-a', node: 'node-1' }, { name: 'pod-b', node: 'node-2' }],
//     clients: ['client'],
//   });
//   await t.pod('pod-b').serve({ http: 8080, udp: 5353 });
//   const { body } = await t.pod('pod-a').httpGet(urlFor(t.pod('pod-b').ip(), 8080));
//   parseEcho(body);                        // { pod: 'pod-b', client: '10.244.1.2', clientPort: ... }
//   const proxy = t.node('node-1').spawn('kpng', [...]);   // a process inside the node
//   await t.node('node-1').iptablesSave();
//   await t.destroy();
//
// Probes (httpGet, udpExchange) are real sockets in the namespace, made by one long-lived
// probe process per namespace (probe-client.ts --agent), ~2 ms a request; each HTTP GET is
// a new connection. Failures are ProbeErrors whose kind tells refused from unreachable
// from timeout.
//
// Everything it creates carries a per-run prefix (`kt` + 4 hex + `-`): namespaces
// `<prefix>net`, `<prefix>n-<node>`, `<prefix>p-<pod>`, `<prefix>c-<client>`; veths
// `<prefix>n<i>` / `<prefix>c<i>` (on the shared bridge `<prefix>br`) and `<prefix>p<i>` (on
// a node's cbr0). Inside each namespace the interfaces are eth0 (and cbr0 on nodes).
// The address plan is in address-plan.ts (shared 10.99.0.0/24 + fd00:99::/64, pod CIDRs
// 10.244.N.0/24 + fd00:244:0:N::/64, ...).
//
// With `nodeCgroups: true`, each node has a cgroup2 folder of its own that every process
// started in it or its pods joins (cgroups.ts), for backends that hook a cgroup's sockets
// (scope.ts gives them the node's cgroup and a state folder of its own).
//
// Cleanup: destroy() ends the processes the topology started and deletes its namespaces
// (and the nodes' cgroups and state folders);
// live topologies are also destroyed when the process exits or gets SIGINT/SIGTERM/SIGHUP;
// sweepStale() (run by default before a process's first topology) removes namespaces of
// earlier runs whose process died (a marker in /run/kpng-netns/ names each run's process).
//
// For vitest files, `useTopology(spec)` from ./testing.ts (a second door, kept apart so
// that this one does not load vitest) creates in beforeAll and destroys in afterAll.

/** Make a topology; run a function with one and always destroy it. */
export { createTopology, withTopology, Topology, Node, Pod, Client } from './topology.ts';
export type { TopologySpec, NodeSpec, PodSpec, Link } from './topology.ts';

/** What every namespace of a topology can do: exec/run/spawn, serve, httpGet, udpExchange, rules and addresses. */
export { Namespace } from './namespace.ts';
export type { HttpResponse, UdpReply, ProbeOptions, EchoServer, EchoServerPorts, InterfaceAddress } from './namespace.ts';

/** Long-running processes in a namespace (a proxy under test). */
export { NsProcess, processRunning } from './process.ts';
export type { SpawnOptions, ExitInfo } from './process.ts';

/** Commands: their options, results and the error they throw; runners placed as a namespace's processes are. */
export type { ExecOptions, ExecResult, Placement } from './exec.ts';
export { runnerIn } from './exec.ts';
export { NetnsExecError, ProbeError, PROBE_ERROR_CODES } from './errors.ts';
export type { ProbeFailure } from './errors.ts';

/** The echo server's answer and URL building. */
export { parseEcho, urlFor } from './probe-protocol.ts';
export type { EchoReply } from './probe-protocol.ts';

/** The address plan. */
export { DEFAULT_PLAN, resolvePlan, familiesOf, planAddress } from './address-plan.ts';
export type { AddressPlan, AddressPlanOverrides, IpFamily, PerFamily, Family } from './address-plan.ts';

/** The project's own node and the environment that starts .ts programs fast, to run a Node.js program (the proxy) inside a namespace. */
export { projectNode, programEnv, siblingProgram } from './programs.ts';

/** Keeping a backend to one node: what a backend's scope needs from the lab, and whether this host has it. */
export { needsNodeCgroups, nodeCgroupsUnavailable, nodeScopeArgs, whyNotConfined, type BackendScope } from './scope.ts';

/** Leftovers of dead runs. */
export { sweepStale, listNamespaces } from './cleanup.ts';
