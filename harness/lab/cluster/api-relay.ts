// How the proxies inside node namespaces reach a kube-apiserver that listens on the
// host's loopback, which no other network namespace can reach: a relay in two halves.
//   namespace end: a small program in a lab namespace on the shared network, accepting
//                  TCP on that namespace's addresses (relay-program.ts);
//   host end:      a unix socket served by this process, each connection joined to the
//                  apiserver's loopback address.
// Unix sockets bound to a path are not scoped to a network namespace, so the two halves
// meet there. TLS passes through untouched (the apiserver's certificate names the relay's
// addresses: startControlPlane's extraSANs). Nothing is added to the host's interfaces.
import { rm } from 'node:fs/promises';
import net from 'node:net';
import { type Namespace, projectNode, programEnv, siblingProgram } from '../netns/index.ts';
import { joinSockets, type RelayProgramConfig } from './relay-join.ts';
import { harnessErrorText } from '../../config/error-codes.ts';

export interface ApiRelayOptions {
  /** The apiserver's URL on loopback (ControlPlane.server). */
  target: string;
  /** The namespace whose addresses the relay listens on. */
  namespace: Namespace;
  /** Addresses of that namespace to listen on (one per family). */
  addresses: string[];
  port: number;
  /** Path of the unix socket joining the halves (in a folder of the lab's). */
  socket: string;
}

export interface ApiRelay {
  /** The apiserver as seen from inside the lab: https://<first address>:<port>. */
  url: string;
  /** Connections relayed so far. */
  readonly connections: number;
  stop(): Promise<void>;
}

export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export async function startApiRelay(opts: ApiRelayOptions): Promise<ApiRelay> {
  const target = new URL(opts.target);
  const targetHost = target.hostname.replace(/^\[|\]$/g, '');
  let connections = 0;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    connections++;
    open.add(client);
    client.on('close', () => open.delete(client));
    joinSockets(client, net.connect({ host: targetHost, port: Number(target.port) }));
  });
  await rm(opts.socket, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.socket, () => resolve());
  });
  const config: RelayProgramConfig = { listen: opts.addresses.map((host) => ({ host, port: opts.port })), socket: opts.socket };
  const child = opts.namespace.spawn(projectNode(), ['--disable-warning=ExperimentalWarning', siblingProgram(import.meta.url, 'relay-program'), JSON.stringify(config)], { env: programEnv(), stdin: 'pipe' });
  const stop = async () => {
    await child.stop({ graceMs: 1_000 });
    for (const socket of open) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(opts.socket, { force: true });
  };
  try {
    await child.waitForOutput(/"listening":true/, 15_000);
  } catch (error) {
    await stop();
    throw new Error(harnessErrorText('KPNG_ERR_LAB_RELAY', `the API relay in ${opts.namespace.netns} did not start: ${(error as Error).message}`), { cause: error });
  }
  return {
    url: `https://${hostPort(opts.addresses[0] ?? '', opts.port)}`,
    get connections() {
      return connections;
    },
    stop,
  };
}
