// to-api and the local source over real gRPC connections (unix sockets and TCP on
// loopback): per-node views, change sets only when a node's view changed, watchers that
// leave, InvalidArgument, file mode, mutual TLS and server reflection.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, loadPackageDefinition, status, type Client, type ClientDuplexStream, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { issueClientCert, issueServerCert, makeCA } from '../../harness/lab/control-plane/index.ts';
import { createSetsClient, type ApiAddress, type OpItem__Output, type WatchReq } from '../api/index.ts';
import { ClusterState, computeLocalState, emptyDelta, type LocalChanges, type LocalState } from '../model/index.ts';
import { node, service, slice } from '../model/testing.ts';
import { memoryLogger } from '../runtime/log.ts';
import { Backoff } from '../sources/backoff.ts';
import { LocalApiSource } from '../sources/local/local-source.ts';
import type { LocalSink } from './sink.ts';
import { ToApi } from './to-api.ts';

vi.setConfig({ testTimeout: 30_000 });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kpng-api-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let socketCount = 0;
const socket = (): ApiAddress => ({ kind: 'unix', path: path.join(dir, `api-${++socketCount}.sock`) });

/** A cluster of `n` nodes and one Service with internalTrafficPolicy=Local and an endpoint on each node: every node's view differs. */
function perNodeCluster(n: number): ClusterState {
  const cluster = new ClusterState();
  const names = Array.from({ length: n }, (_, i) => `n${i}`);
  cluster.replaceAll([
    ...names.map((name) => node(name)),
    service('local-only', { clusterIPs: ['10.96.0.20'], itp: 'Local' }),
    service('everywhere', { clusterIPs: ['10.96.0.21'] }),
    slice('local-only-1', 'local-only', names.map((name, i) => ({ ip: `10.244.${i}.2`, node: name }))),
    slice('everywhere-1', 'everywhere', [{ ip: '10.244.0.9', node: 'n0' }]),
  ]);
  return cluster;
}

/** A local sink that keeps every state handed to it. */
function recorder(): LocalSink & { states: LocalState[]; changes: LocalChanges[] } {
  const r = {
    states: [] as LocalState[],
    changes: [] as LocalChanges[],
    start: async () => {},
    onLocal(state: LocalState, changes: LocalChanges) {
      r.states.push(state);
      r.changes.push(changes);
    },
    drain: async () => {},
    stop: async () => {},
  };
  return r;
}

const fast = () => new Backoff({ initialMs: 20, maxMs: 200, jitter: 0 });

/** Run a local source in the background; returns its sink and a stop function. */
function watchNode(api: ApiAddress, nodeName: string, client: ConstructorParameters<typeof LocalApiSource>[0]['client'] = {}) {
  const sink = recorder();
  const logger = memoryLogger();
  const source = new LocalApiSource({ api, nodeName, client, logger, backoff: fast() });
  const ctrl = new AbortController();
  const running = source.run(sink, ctrl.signal);
  return {
    sink,
    source,
    logger,
    stop: async () => {
      ctrl.abort();
      await running;
    },
  };
}

async function startServer(listen: ApiAddress, tls?: ConstructorParameters<typeof ToApi>[0]['tls'], logger = memoryLogger()): Promise<ToApi> {
  const server = new ToApi({ listen, logger, ...(tls && { tls }) });
  await server.start();
  return server;
}

const endpointsOf = (state: LocalState | undefined, key: string) => state?.servicePorts.get(key)?.internalEndpoints.map((e) => e.address);

/** Open a raw Watch; resolves with the status it ended with. */
function rawWatch(api: ApiAddress, reqs: WatchReq[], opts: Parameters<typeof createSetsClient>[1] = {}): Promise<{ code: number; details: string; ops: OpItem__Output[] }> {
  return createSetsClient(api, opts).then(
    (client) =>
      new Promise((resolve) => {
        const ops: OpItem__Output[] = [];
        const call: ClientDuplexStream<WatchReq, OpItem__Output> = client.Watch();
        call.on('data', (op: OpItem__Output) => ops.push(op));
        call.on('error', (e: Error & { code: number; details: string }) => {
          client.close();
          resolve({ code: e.code, details: e.details, ops });
        });
        call.on('end', () => {
          client.close();
          resolve({ code: status.OK, details: '', ops });
        });
        for (const r of reqs) call.write(r);
      }),
  );
}

describe('to-api with many local clients', () => {
  it('gives each of 50 clients its own node view, sends a change set only to the node whose view changed, and forgets clients that leave', async () => {
    const api = socket();
    const server = await startServer(api);
    const cluster = perNodeCluster(50);
    const clients = Array.from({ length: 50 }, (_, i) => watchNode(api, `n${i}`));
    try {
      // Watchers that came before the first complete view get nothing yet.
      await vi.waitFor(() => expect(server.stats().watchers).toBe(50));
      expect(clients.every((c) => c.sink.states.length === 0)).toBe(true);

      server.onCluster(cluster, emptyDelta());
      await vi.waitFor(() => expect(clients.filter((c) => c.sink.states.length === 1)).toHaveLength(50));
      clients.forEach((c, i) => {
        const expected = computeLocalState(cluster, { nodeName: `n${i}` });
        expect(c.sink.states[0]).toStrictEqual({ node: expected.node, servicePorts: new Map(expected.servicePorts) });
        expect(endpointsOf(c.sink.states[0], 'default/local-only')).toEqual([`10.244.${i}.2`]);
      });
      expect(server.stats().nodes.size).toBe(50);

      // n7's endpoint moves: only n7's view changes. (Every client has asked for more first.)
      await vi.waitFor(() => expect(server.stats().waiting).toBe(50));
      const before = server.stats().changeSets;
      const { delta } = cluster.upsert(slice('local-only-1', 'local-only', Array.from({ length: 50 }, (_, i) => ({ ip: i === 7 ? '10.244.7.99' : `10.244.${i}.2`, node: `n${i}` }))));
      server.onCluster(cluster, delta);
      expect(server.stats().changeSets).toBe(before + 1);
      await vi.waitFor(() => expect(endpointsOf(clients[7]!.sink.states.at(-1), 'default/local-only')).toEqual(['10.244.7.99']));
      expect(clients[7]!.sink.changes.at(-1)).toEqual({ servicePorts: new Set(['default/local-only']), node: false });

      // A change every node sees reaches all of them, once each.
      await vi.waitFor(() => expect(server.stats().waiting).toBe(50));
      const all = server.stats().changeSets;
      const d2 = cluster.upsert(slice('everywhere-1', 'everywhere', [{ ip: '10.244.0.10', node: 'n0' }]));
      server.onCluster(cluster, d2.delta);
      expect(server.stats().changeSets).toBe(all + 50);
      await vi.waitFor(() => expect(clients.every((c) => endpointsOf(c.sink.states.at(-1), 'default/everywhere')?.[0] === '10.244.0.10')).toBe(true));
      expect(clients.map((c) => c.sink.states.length)).toEqual(clients.map((_, i) => (i === 7 ? 3 : 2)));

      // A delta that changes no node's view sends nothing.
      await vi.waitFor(() => expect(server.stats().waiting).toBe(50));
      const quiet = server.stats().changeSets;
      const d3 = cluster.upsert(service('unrelated', { labels: { 'service.kubernetes.io/service-proxy-name': 'someone-else' }, clusterIPs: ['10.96.0.30'] }));
      server.onCluster(cluster, d3.delta);
      expect(server.stats().changeSets).toBe(quiet);

      // Half of them leave: their views go; the rest stay.
      await Promise.all(clients.slice(0, 25).map((c) => c.stop()));
      await vi.waitFor(() => expect(server.stats().watchers).toBe(25));
      expect([...server.stats().nodes.keys()].sort()).toEqual(Array.from({ length: 25 }, (_, i) => `n${i + 25}`).sort());
    } finally {
      await Promise.all(clients.map((c) => c.stop()));
      await vi.waitFor(() => expect(server.stats()).toMatchObject({ watchers: 0, nodes: new Map() }));
      await server.stop();
    }
  });

  it('shares one view among the watchers of one node and drops it with the last of them', async () => {
    const api = socket();
    const server = await startServer(api);
    server.onCluster(perNodeCluster(2), emptyDelta());
    const a = watchNode(api, 'n1');
    const b = watchNode(api, 'n1');
    try {
      await vi.waitFor(() => expect([a.sink.states.length, b.sink.states.length]).toEqual([1, 1]));
      expect(server.stats().nodes).toEqual(new Map([['n1', 2]]));
      await a.stop();
      await vi.waitFor(() => expect(server.stats().nodes).toEqual(new Map([['n1', 1]])));
      await b.stop();
      await vi.waitFor(() => expect(server.stats().nodes).toEqual(new Map()));
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await server.stop();
    }
  });

  it('names each watcher in its logs: the socket path and stream over unix, the address over TCP', async () => {
    for (const api of [socket(), { kind: 'tcp', host: '127.0.0.1', port: 0 } as ApiAddress]) {
      const logger = memoryLogger();
      const server = await startServer(api, undefined, logger);
      const listen = server.address;
      server.onCluster(perNodeCluster(2), emptyDelta());
      const a = watchNode(listen, 'n1');
      const b = watchNode(listen, 'n2');
      try {
        await vi.waitFor(() => expect([a.sink.states.length, b.sink.states.length]).toEqual([1, 1]));
        const peers = logger.lines.filter((l) => l.msg === 'watcher joined').map((l) => String(l.fields.peer));
        expect(peers).toHaveLength(2);
        for (const p of peers) expect(p).not.toBe('unknown');
        if (api.kind === 'unix') expect(peers.sort()).toEqual([`unix://${api.path} stream #1`, `unix://${api.path} stream #2`]);
        else for (const p of peers) expect(p).toMatch(/^127\.0\.0\.1:\d+$/);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
        await server.stop();
      }
    }
  });

  it('drops the view of a client process that was killed without a goodbye', async () => {
    const api = socket();
    const server = await startServer(api);
    server.onCluster(perNodeCluster(2), emptyDelta());
    const out = path.join(dir, 'killed.json');
    const cli = fileURLToPath(new URL('../cli.ts', import.meta.url));
    const proc = execa(process.execPath, [cli, 'local', `--api=unix://${(api as { path: string }).path}`, '--node-name=n1', 'to-json', `--output=${out}`], { reject: false });
    try {
      await vi.waitFor(async () => expect((await stat(out)).size).toBeGreaterThan(0), { timeout: 20_000 });
      expect(server.stats().nodes).toEqual(new Map([['n1', 1]]));
      proc.kill('SIGKILL');
      await proc;
      await vi.waitFor(() => expect(server.stats()).toMatchObject({ watchers: 0, nodes: new Map() }));
    } finally {
      proc.kill('SIGKILL');
      await server.stop();
    }
  });
});

describe('the Watch protocol', () => {
  it('ends a Watch without a node name, or with a second node name, with INVALID_ARGUMENT', async () => {
    const api = socket();
    const server = await startServer(api);
    server.onCluster(perNodeCluster(2), emptyDelta());
    try {
      const empty = await rawWatch(api, [{ nodeName: '' }]);
      expect(empty.code).toBe(status.INVALID_ARGUMENT);
      expect(empty.details).toMatch(/KPNG_ERR_API_PROTOCOL: node_name is required/);
      expect(empty.ops).toEqual([]);

      const two = await rawWatch(api, [{ nodeName: 'n0' }, { nodeName: 'n1' }]);
      expect(two.code).toBe(status.INVALID_ARGUMENT);
      expect(two.details).toMatch(/this Watch is for node "n0", got node_name "n1"/);
      await vi.waitFor(() => expect(server.stats()).toMatchObject({ watchers: 0, nodes: new Map() }));
    } finally {
      await server.stop();
    }
  });

  it('starts every stream with a snapshot (Reset … Sync); a client that reconnects to the same view hands its sink nothing new', async () => {
    const api = socket();
    const cluster = perNodeCluster(2);
    let server = await startServer(api);
    server.onCluster(cluster, emptyDelta());
    const c = watchNode(api, 'n1');
    try {
      await vi.waitFor(() => expect(c.sink.states).toHaveLength(1));
      await server.stop();
      server = await startServer(api);
      server.onCluster(cluster, emptyDelta());
      await vi.waitFor(() => expect(c.source.streams).toBeGreaterThanOrEqual(2));
      await vi.waitFor(() => expect(server.stats().changeSets).toBe(1));
      expect(c.sink.states).toHaveLength(1);
      expect(c.logger.lines.some((l) => l.msg.includes('reconnecting'))).toBe(true);

      const { delta } = cluster.upsert(slice('local-only-1', 'local-only', [{ ip: '10.244.1.77', node: 'n1' }]));
      server.onCluster(cluster, delta);
      await vi.waitFor(() => expect(endpointsOf(c.sink.states.at(-1), 'default/local-only')).toEqual(['10.244.1.77']));
      expect(c.sink.states).toHaveLength(2);
    } finally {
      await c.stop();
      await server.stop();
    }
  });
});

describe('transports', () => {
  it('listens on a unix socket of mode 0600 and removes it on stop', async () => {
    const api = socket() as { kind: 'unix'; path: string };
    const server = await startServer(api);
    const st = await stat(api.path);
    expect(st.isSocket()).toBe(true);
    expect((st.mode & 0o777).toString(8)).toBe('600');
    await server.stop();
    await expect(stat(api.path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('with mutual TLS, serves a client with a certificate of its CA and refuses one without, or with another CA', async () => {
    const pki = await mkdtemp(path.join(dir, 'pki-'));
    const rogue = await mkdtemp(path.join(dir, 'rogue-'));
    const ca = await makeCA(pki);
    const srv = await issueServerCert(pki, 'server', ['kpng-api'], ['127.0.0.1']);
    const good = await issueClientCert(pki, 'agent', 'agent');
    await makeCA(rogue, 'rogue');
    const bad = await issueClientCert(rogue, 'agent', 'agent');

    const server = await startServer({ kind: 'tcp', host: '127.0.0.1', port: 0 }, { cert: srv.cert, key: srv.key, ca: ca.cert });
    server.onCluster(perNodeCluster(2), emptyDelta());
    const api = server.address;
    const c = watchNode(api, 'n1', { tls: { ca: ca.cert, cert: good.cert, key: good.key }, serverName: 'kpng-api' });
    try {
      await vi.waitFor(() => expect(endpointsOf(c.sink.states[0], 'default/local-only')).toEqual(['10.244.1.2']));
      const without = await rawWatch(api, [{ nodeName: 'n1' }], { tls: { ca: ca.cert }, serverName: 'kpng-api' });
      expect(without.code).toBe(status.UNAVAILABLE);
      expect(without.ops).toEqual([]);
      const foreign = await rawWatch(api, [{ nodeName: 'n1' }], { tls: { ca: ca.cert, cert: bad.cert, key: bad.key }, serverName: 'kpng-api' });
      expect(foreign.code).toBe(status.UNAVAILABLE);
      expect(foreign.ops).toEqual([]);
      expect(server.stats().nodes).toEqual(new Map([['n1', 1]]));
    } finally {
      await c.stop();
      await server.stop();
    }
  });

  it('answers server reflection: lists the Sets service and describes it', async () => {
    const api = socket() as { kind: 'unix'; path: string };
    const server = await startServer(api);
    const require = createRequire(import.meta.url);
    const protoDir = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto');
    const def = loadSync('grpc/reflection/v1/reflection.proto', { includeDirs: [protoDir], keepCase: true, oneofs: true });
    const Reflection = (loadPackageDefinition(def) as unknown as { grpc: { reflection: { v1: { ServerReflection: ServiceClientConstructor } } } }).grpc.reflection.v1.ServerReflection;
    const client = new Reflection(`unix://${api.path}`, credentials.createInsecure()) as unknown as Client & { ServerReflectionInfo(): ClientDuplexStream<unknown, Record<string, unknown>> };
    try {
      const ask = (req: Record<string, string>) =>
        new Promise<Record<string, unknown>>((resolve, reject) => {
          const call = client.ServerReflectionInfo();
          call.on('data', (res) => {
            resolve(res);
            call.end();
          });
          call.on('error', reject);
          call.write(req);
        });
      const list = (await ask({ list_services: '' })) as { list_services_response: { service: Array<{ name: string }> } };
      expect(list.list_services_response.service.map((s) => s.name)).toContain('kpng.localv1.Sets');
      const file = (await ask({ file_containing_symbol: 'kpng.localv1.Sets' })) as { file_descriptor_response: { file_descriptor_proto: Buffer[] } };
      const text = Buffer.concat(file.file_descriptor_response.file_descriptor_proto).toString('latin1');
      expect(text).toContain('kpng.localv1');
      expect(text).toContain('Watch');
    } finally {
      client.close();
      await server.stop();
    }
  });
});
