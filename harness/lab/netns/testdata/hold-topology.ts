// A process that makes a small topology with an echo server, prints what it made as one
// JSON line, and waits to be killed. Used by cleanup.netns.test.ts and cgroups.netns.test.ts
// to prove what happens when a process holding a topology gets a signal. With
// --node-cgroups, its node has a cgroup of its own and a state folder below /sys/fs/bpf.

import { createTopology } from '../topology.ts';

const nodeCgroups = process.argv.includes('--node-cgroups');
const topology = await createTopology({ family: 'ipv4', nodes: ['node-1'], pods: [{ name: 'pod-a', node: 'node-1' }], sweep: false, nodeCgroups });
const server = await topology.pod('pod-a').serve({ http: 8080 });
const stateDir = nodeCgroups ? topology.node('node-1').stateDir('/sys/fs/bpf') : undefined;
process.stdout.write(`${JSON.stringify({ prefix: topology.prefix, namespaces: topology.namespaces, serverPid: server.process.pid, cgroup: topology.node('node-1').cgroup, stateDir })}\n`);
setInterval(() => undefined, 60_000);
