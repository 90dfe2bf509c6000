// The kube source against a real etcd + kube-apiserver: a real `kpng kube ... to-local
// ... to-json` process follows Services and EndpointSlices, survives odd objects, an API
// server restart and a 410 relist; in-process sources show what the server filtered and
// that nothing reaches a sink before every cache has synced.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { useControlPlane } from '../../../harness/lab/control-plane/testing.ts';
import type { ClusterDelta, ClusterState } from '../../model/index.ts';
import { service, slice } from '../../model/testing.ts';
import { memoryLogger } from '../../runtime/log.ts';
import type { ClusterSink } from '../../sinks/sink.ts';
import { KubeSource } from './kube-source.ts';
import { apiService, internal, KpngProcess, ObjectWriter, portsIn, waitForDoc } from './testing.ts';

const cp = useControlPlane({ family: 'dual' });
let dir: string;
let api: ObjectWriter;
let proc: KpngProcess;
let out: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kpng-kube-'));
  api = new ObjectWriter(cp().kubeconfig);
  for (const ns of ['follow', 'odd', 'restart', 'gone', 'filter', 'gate', 'fields']) await api.namespace(ns);
  out = path.join(dir, 'state.json');
  proc = new KpngProcess(['kube', `--kubeconfig=${cp().kubeconfig}`, 'to-local', '--node-name=n1', 'to-json', `--output=${out}`]);
  // The first document: every cache synced once (the kubernetes Service is there).
  await waitForDoc(out, (doc) => expect(doc.servicePorts.map((sp) => sp.key)).toContain('default/kubernetes:https'));
}, 60_000);

afterAll(async () => {
  await proc?.stop();
  await rm(dir, { recursive: true, force: true });
});

const web = (o: Parameters<typeof service>[1] = {}) => apiService(service('web', { namespace: 'follow', ports: [{ name: 'http', port: 80, targetPort: 8080 }], ...o }));

describe('a kpng kube ... to-local ... to-json process', () => {
  it('follows creates, updates and deletes of Services and EndpointSlices', async () => {
    await api.apply(web());
    await waitForDoc(out, (doc) => expect([...portsIn(doc, 'follow').keys()]).toEqual(['follow/web:http']));

    await api.apply(slice('web-a', 'web', [{ ip: '10.244.1.5', node: 'n1' }], { namespace: 'follow', ports: [{ name: 'http', port: 8080 }] }));
    await waitForDoc(out, (doc) => {
      const sp = portsIn(doc, 'follow').get('follow/web:http');
      expect(internal(sp)).toEqual(['10.244.1.5:8080']);
      expect(sp?.internalEndpoints[0]?.local).toBe(true);
    });

    // A second slice, and the first one's endpoint no longer ready.
    await api.apply(slice('web-b', 'web', [{ ip: '10.244.2.7', node: 'n2' }], { namespace: 'follow', ports: [{ name: 'http', port: 8080 }] }));
    await api.apply(slice('web-a', 'web', [{ ip: '10.244.1.5', node: 'n1', ready: false, serving: false }], { namespace: 'follow', ports: [{ name: 'http', port: 8080 }] }));
    await waitForDoc(out, (doc) => expect(internal(portsIn(doc, 'follow').get('follow/web:http'))).toEqual(['10.244.2.7:8080']));

    // The Service gains a port and becomes a NodePort.
    await api.apply(web({ type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'dns', port: 53, protocol: 'UDP' }] }));
    await waitForDoc(out, (doc) => {
      const ports = portsIn(doc, 'follow');
      expect([...ports.keys()].sort()).toEqual(['follow/web:dns', 'follow/web:http']);
      expect(ports.get('follow/web:http')?.nodePort).toBeGreaterThan(0);
      expect(ports.get('follow/web:dns')?.protocol).toBe('UDP');
    });

    await api.remove(slice('web-b', 'web', [], { namespace: 'follow' }));
    await waitForDoc(out, (doc) => expect(internal(portsIn(doc, 'follow').get('follow/web:http'))).toEqual([]));
    await api.remove(web());
    await waitForDoc(out, (doc) => expect(portsIn(doc, 'follow').size).toBe(0));
    expect(proc.running).toBe(true);
  });

  it('never crashes on odd objects the API accepts, and keeps serving the rest', async () => {
    const odd: KubernetesObject[] = [
      // No ports: a headless Service and an ExternalName one.
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'headless-no-ports', namespace: 'odd' }, spec: { clusterIP: 'None' } } as KubernetesObject,
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'external-name', namespace: 'odd' }, spec: { type: 'ExternalName', externalName: 'example.com' } } as KubernetesObject,
      apiService(service('plain', { namespace: 'odd', ports: [{ port: 80, targetPort: 8080 }] })),
      // A slice with no endpoints, one without ports, one with an endpoint without conditions or node, an FQDN one.
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'empty', namespace: 'odd', labels: { 'kubernetes.io/service-name': 'plain' } }, addressType: 'IPv4', endpoints: [] } as KubernetesObject,
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'portless', namespace: 'odd', labels: { 'kubernetes.io/service-name': 'plain' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.244.3.3'] }] } as KubernetesObject,
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'bare', namespace: 'odd', labels: { 'kubernetes.io/service-name': 'plain' } }, addressType: 'IPv4', ports: [{ port: 8080, protocol: 'TCP' }], endpoints: [{ addresses: ['10.244.3.4'], conditions: {} }] } as KubernetesObject,
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'fqdn', namespace: 'odd', labels: { 'kubernetes.io/service-name': 'plain' } }, addressType: 'FQDN', ports: [{ port: 8080 }], endpoints: [{ addresses: ['a.example.com'] }] } as KubernetesObject,
      // A slice that names no Service, and one whose Service does not exist.
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'orphan', namespace: 'odd' }, addressType: 'IPv4', ports: [{ port: 1 }], endpoints: [{ addresses: ['10.244.3.5'] }] } as KubernetesObject,
      slice('ghost', 'no-such-service', ['10.244.3.6'], { namespace: 'odd' }),
    ];
    await api.applyAll(odd);
    await waitForDoc(out, (doc) => {
      const ports = portsIn(doc, 'odd');
      expect([...ports.keys()]).toEqual(['odd/plain']);
      // No conditions: ready and serving (the API's defaults for absent conditions).
      expect(ports.get('odd/plain')?.internalEndpoints).toMatchObject([{ address: '10.244.3.4', port: 8080, ready: true, serving: true, terminating: false, local: false }]);
    });
    expect(proc.running).toBe(true);
    expect(proc.stderr).not.toMatch(/\bERROR\b/);
  });

  it('recovers from a kube-apiserver restart mid-watch and converges, without a stale Service', async () => {
    const svc = (name: string) => apiService(service(name, { namespace: 'restart', ports: [{ port: 80, targetPort: 8080 }] }));
    await api.applyAll([svc('stays'), svc('goes')]);
    await waitForDoc(out, (doc) => expect([...portsIn(doc, 'restart').keys()].sort()).toEqual(['restart/goes', 'restart/stays']));

    await cp().stopAPIServer();
    await cp().startAPIServer();
    await api.remove(svc('goes'));
    await api.applyAll([svc('new'), slice('stays-1', 'stays', ['10.244.4.4'], { namespace: 'restart' })]);
    // The wait covers the source's retry backoff (doubling from 0.5 s) while the server was away.
    await waitForDoc(
      out,
      (doc) => {
        const ports = portsIn(doc, 'restart');
        expect([...ports.keys()].sort()).toEqual(['restart/new', 'restart/stays']);
        expect(internal(ports.get('restart/stays'))).toEqual(['10.244.4.4:8080']);
      },
      60_000,
    );
    expect(proc.running).toBe(true);
  });

  it('relists after 410 Gone (history compacted while it could not watch) and drops what vanished meanwhile', async () => {
    const svc = (name: string) => apiService(service(name, { namespace: 'gone', ports: [{ port: 80, targetPort: 8080 }] }));
    await api.applyAll([svc('kept'), svc('vanishes'), slice('vanishes-1', 'vanishes', ['10.244.5.5'], { namespace: 'gone' })]);
    await waitForDoc(out, (doc) => expect(internal(portsIn(doc, 'gone').get('gone/vanishes'))).toEqual(['10.244.5.5:8080']));
    const relistsBefore = proc.stderr.split('\n').filter((l) => l.includes('relisting after 410 Gone')).length;

    // kube-apiserver crashes; while it is down, the objects go from etcd and etcd forgets
    // its history: no watch can tell of the deletion, only a new list can.
    await cp().stopAPIServer('SIGKILL');
    expect(await cp().deleteFromEtcd('services/specs', 'gone', 'vanishes')).toBe(1);
    expect(await cp().deleteFromEtcd('endpointslices', 'gone', 'vanishes-1')).toBe(1);
    await cp().compact();
    await cp().startAPIServer();

    await waitForDoc(out, (doc) => expect([...portsIn(doc, 'gone').keys()]).toEqual(['gone/kept']), 60_000);
    const relists = proc.stderr.split('\n').filter((l) => l.includes('relisting after 410 Gone'));
    expect(relists.length).toBeGreaterThan(relistsBefore);
    expect(proc.running).toBe(true);
  });
});

/** A sink that records what it was handed. */
function recordingSink(): ClusterSink & { calls: Array<{ services: string[]; delta: ClusterDelta }>; cluster?: ClusterState } {
  const sink = {
    calls: [] as Array<{ services: string[]; delta: ClusterDelta }>,
    cluster: undefined as ClusterState | undefined,
    start: async () => {},
    onCluster(cluster: ClusterState, delta: ClusterDelta) {
      sink.cluster = cluster;
      sink.calls.push({ services: [...cluster.services.keys()], delta });
    },
    drain: async () => {},
    stop: async () => {},
  };
  return sink;
}

async function runSource(opts: { kubeconfig: string; serviceProxyName?: string }, fn: (source: KubeSource, sink: ReturnType<typeof recordingSink>) => Promise<void>): Promise<void> {
  const source = new KubeSource({ ...opts, watchInactivityMs: 90_000, batchMs: 0, logger: memoryLogger() });
  const sink = recordingSink();
  const ctrl = new AbortController();
  const running = source.run(sink, ctrl.signal);
  try {
    await fn(source, sink);
  } finally {
    ctrl.abort();
    await running;
  }
}

describe('the kube source in-process', () => {
  it('receives only the Services and EndpointSlices of its --service-proxy-name, and no headless slices: the API server filtered them', async () => {
    const proxyName = 'service.kubernetes.io/service-proxy-name';
    const headless = 'service.kubernetes.io/headless';
    await api.applyAll([
      apiService(service('plain', { namespace: 'filter' })),
      apiService(service('ours', { namespace: 'filter', labels: { [proxyName]: 'kpng' } })),
      apiService(service('theirs', { namespace: 'filter', labels: { [proxyName]: 'other' } })),
      slice('plain-1', 'plain', ['10.244.6.1'], { namespace: 'filter' }),
      slice('ours-1', 'ours', ['10.244.6.2'], { namespace: 'filter', labels: { [proxyName]: 'kpng' } }),
      slice('theirs-1', 'theirs', ['10.244.6.3'], { namespace: 'filter', labels: { [proxyName]: 'other' } }),
      slice('headless-1', 'plain', ['10.244.6.4'], { namespace: 'filter', labels: { [headless]: '' } }),
    ]);
    const received = (cluster: ClusterState | undefined, kind: 'Service' | 'EndpointSlice') => [...(cluster?.raw[kind].keys() ?? [])].filter((k) => k.startsWith('filter/')).sort();

    await runSource({ kubeconfig: cp().kubeconfig }, async (_source, sink) => {
      await vi.waitFor(() => expect(received(sink.cluster, 'EndpointSlice')).toEqual(['filter/plain-1']), { timeout: 20_000 });
      expect(received(sink.cluster, 'Service')).toEqual(['filter/plain']);
    });
    await runSource({ kubeconfig: cp().kubeconfig, serviceProxyName: 'kpng' }, async (_source, sink) => {
      await vi.waitFor(() => expect(received(sink.cluster, 'EndpointSlice')).toEqual(['filter/ours-1']), { timeout: 20_000 });
      expect(received(sink.cluster, 'Service')).toEqual(['filter/ours']);
      // The kubernetes Service has no proxy-name label: not this proxy's either.
      expect(sink.cluster?.raw.Service.has('default/kubernetes')).toBe(false);
    });
  });

  it("keeps what it listed and what it watched without the API server's managedFields", async () => {
    const write = async (name: string) => [
      await api.apply(apiService(service(name, { namespace: 'fields' }))),
      await api.apply(slice(`${name}-1`, name, ['10.244.8.1'], { namespace: 'fields' })),
    ];
    // The server records its field owners on every object it serves.
    for (const o of await write('listed')) expect(o.metadata?.managedFields?.length).toBeGreaterThan(0);
    await runSource({ kubeconfig: cp().kubeconfig }, async (_source, sink) => {
      await vi.waitFor(() => expect(sink.cluster?.raw.EndpointSlice.has('fields/listed-1')).toBe(true), { timeout: 20_000 });
      await write('watched');
      await vi.waitFor(() => expect(sink.cluster?.raw.EndpointSlice.has('fields/watched-1')).toBe(true), { timeout: 20_000 });
      const raw = sink.cluster!.raw;
      const kept = [...raw.Service, ...raw.EndpointSlice].filter(([key]) => key.startsWith('fields/'));
      expect(kept.map(([key]) => key).sort()).toEqual(['fields/listed', 'fields/listed-1', 'fields/watched', 'fields/watched-1']);
      for (const [key, o] of kept) expect({ key, managedFields: (o as KubernetesObject).metadata?.managedFields }).toEqual({ key, managedFields: undefined });
    });
  });

  it('hands nothing to its sink until every cache has synced once', async () => {
    await api.applyAll([apiService(service('gated', { namespace: 'gate' })), slice('gated-1', 'gated', ['10.244.7.1'], { namespace: 'gate' })]);
    // A user that may read Services and EndpointSlices, but not (yet) Nodes.
    const role = (resources: Array<[string, string]>) => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'kpng-gate' },
      rules: resources.map(([apiGroup, resource]) => ({ apiGroups: [apiGroup], resources: [resource], verbs: ['list', 'watch'] })),
    });
    await api.apply(role([['', 'services'], ['discovery.k8s.io', 'endpointslices']]) as KubernetesObject);
    await api.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'kpng-gate' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kpng-gate' },
      subjects: [{ kind: 'User', name: 'gatekeeper', apiGroup: 'rbac.authorization.k8s.io' }],
    } as KubernetesObject);
    const kubeconfig = await cp().kubeconfigFor('gatekeeper');

    await runSource({ kubeconfig }, async (source, sink) => {
      const synced = () => Object.fromEntries(source.reflectors.map((r) => [r.kind, r.synced]));
      await vi.waitFor(() => expect(synced()).toEqual({ Service: true, EndpointSlice: true, Node: false }), { timeout: 20_000 });
      // Services and slices are in; the Node list keeps failing (403) and retrying.
      await vi.waitFor(() => expect(source.reflectors.find((r) => !r.synced)!.failures).toBeGreaterThanOrEqual(2), { timeout: 20_000 });
      expect(sink.calls).toEqual([]);

      await api.apply(role([['', 'services'], ['discovery.k8s.io', 'endpointslices'], ['', 'nodes']]) as KubernetesObject);
      await vi.waitFor(() => expect(sink.calls.length).toBeGreaterThan(0), { timeout: 30_000 });
      // The first call carries everything at once.
      expect(sink.calls[0]!.services).toEqual(expect.arrayContaining(['gate/gated', 'default/kubernetes']));
      expect(sink.calls[0]!.delta.services.has('gate/gated')).toBe(true);
    });
  });
});
