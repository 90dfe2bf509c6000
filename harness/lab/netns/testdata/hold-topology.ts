// A process that makes a small topology with an echo server, prints what it made as one
// JSON line, and waits to be killed. Used by cleanup.netns.test.ts to prove what happens
// when a process holding a topology gets a signal.

import { createTopology } from '../topology.ts';

const topology = await createTopology({ family: 'ipv4', nodes: ['node-1'], pods: [{ name: 'pod-a', node: 'node-1' }], sweep: false });
const server = await topology.pod('pod-a').serve({ http: 8080 });
process.stdout.write(`${JSON.stringify({ prefix: topology.prefix, namespaces: topology.namespaces, serverPid: server.process.pid })}\n`);
setInterval(() => undefined, 60_000);
