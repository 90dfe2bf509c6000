// The node-local API as pipeline stages: `to-api` serves every watched node's view, and
// `local` reads one node's view from such a server:
//   kpng kube ... to-api --listen=unix:///k8s/proxy.sock
//   kpng local --api=unix:///k8s/proxy.sock --node-name=n1 to-iptables
import type { TLSFiles } from '../api/index.ts';
// The address parser only: the api room's door (index.ts) loads @grpc/grpc-js.
import { parseApiAddress } from '../api/address.ts';
import { checkWith, flagString, type FlagSpec, type FlagValues } from './flags.ts';
import { nodeNameFlag, nodeNameOf, type ClusterSinkStage, type LocalSourceStage } from './stages.ts';

export const defaultApiSocket = 'unix:///k8s/proxy.sock';

const tlsFlags = (who: 'server' | 'client'): FlagSpec[] => [
  { name: 'tls-cert', type: 'string', description: `PEM certificate of this ${who} (tcp:// only; with --tls-key)` },
  { name: 'tls-key', type: 'string', description: `PEM private key of this ${who} (tcp:// only; with --tls-cert)` },
  {
    name: 'tls-ca',
    type: 'string',
    description: who === 'server' ? 'PEM CA bundle: require client certificates signed by it (mutual TLS)' : 'PEM CA bundle to verify the server certificate with (default: the system roots)',
  },
];

function tlsOf(v: FlagValues): TLSFiles {
  return { cert: flagString(v, 'tls-cert'), key: flagString(v, 'tls-key'), ca: flagString(v, 'tls-ca') };
}

/** The api room loads @grpc/grpc-js: only pipelines that use it pay for it. */
const api = () => import('../api/index.ts');

export const toApiStage: ClusterSinkStage = {
  role: 'cluster-sink',
  name: 'to-api',
  summary: "serve each node's local view over gRPC (localv1 Sets.Watch) to `kpng local` agents",
  takesLocalSink: false,
  flags: [
    {
      name: 'listen',
      type: 'string',
      default: defaultApiSocket,
      description: 'unix:///path (a socket of mode 0600) or tcp://host:port (tcp://:12090: every IPv4 address); server reflection is on',
      check: checkWith((v) => parseApiAddress(String(v), 'listen', { emptyHost: true })),
    },
    ...tlsFlags('server'),
  ],
  create: (v, ctx) => {
    const logger = ctx.logger.child('to-api');
    let sink: import('../sinks/to-api.ts').ToApi | undefined;
    // Parse and load on start, so that a bad address is reported as a start failure with its code.
    return {
      async start() {
        const [{ parseApiAddress }, { ToApi }] = await Promise.all([api(), import('../sinks/to-api.ts')]);
        sink = new ToApi({ listen: parseApiAddress(flagString(v, 'listen')!, 'listen', { emptyHost: true }), tls: tlsOf(v), logger });
        await sink.start();
      },
      onCluster: (cluster, delta) => sink?.onCluster(cluster, delta),
      drain: () => sink?.drain() ?? Promise.resolve(),
      stop: () => sink?.stop() ?? Promise.resolve(),
    };
  },
};

export const localStage: LocalSourceStage = {
  role: 'local-source',
  name: 'local',
  summary: "read this node's local view from a to-api server and hand it to a backend (or to-json)",
  flags: [
    {
      name: 'api',
      type: 'string',
      default: defaultApiSocket,
      description: 'the to-api server: unix:///path or tcp://host:port',
      check: checkWith((v) => parseApiAddress(String(v), 'api')),
    },
    nodeNameFlag,
    ...tlsFlags('client'),
    { name: 'tls-server-name', type: 'string', description: 'the name to verify the server certificate against, when it is not the host of --api' },
  ],
  create: (v, ctx) => ({
    run: async (sink, signal) => {
      const [{ parseApiAddress }, { LocalApiSource }] = await Promise.all([api(), import('../sources/local/local-source.ts')]);
      const serverName = flagString(v, 'tls-server-name');
      const source = new LocalApiSource({
        api: parseApiAddress(flagString(v, 'api')!, 'api'),
        nodeName: nodeNameOf(v),
        client: { tls: tlsOf(v), ...(serverName !== undefined && { serverName }) },
        logger: ctx.logger.child('local'),
      });
      await source.run(sink, signal);
    },
  }),
};
