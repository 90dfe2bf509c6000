// The namespace end of the API relay, run inside a lab namespace by the project's node:
//   node relay-program.ts '{"listen":[{"host":"10.99.0.101","port":6443}],"socket":"/tmp/kpng-lab-x/api.sock"}'
// Accepts TCP connections on each listen address and joins each to a new connection to
// the unix socket (a filesystem path, so it reaches across network namespaces). Prints
// {"listening":true} once every address is bound; exits when its standard input ends
// (its parent is gone) or on SIGTERM/SIGINT.
import net from 'node:net';
import { announceAndServe } from '../netns/child-program.ts';
import { joinSockets, type RelayProgramConfig } from './relay-join.ts';

const config = JSON.parse(process.argv[2] ?? '{}') as RelayProgramConfig;

function listen(host: string, port: number): Promise<void> {
  const server = net.createServer((client) => joinSockets(client, net.connect({ path: config.socket })));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, ipv6Only: host.includes(':') }, () => resolve());
  });
}

await announceAndServe(Promise.all(config.listen.map((address) => listen(address.host, address.port))));
