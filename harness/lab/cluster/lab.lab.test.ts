// The lab cluster itself, against a real etcd + kube-apiserver and real namespaces: what
// it registers, how nodes reach the API, the EndpointSlices it writes, the proxies it
// runs, and what destroy() leaves (a shared control plane, nothing else).
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { V1EndpointSlice, V1Node } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { k8sBinary } from '../../k8s-binaries.ts';
import type { ControlPlane } from '../control-plane/index.ts';
import { listNamespaces } from '../netns/index.ts';
import { Lab, startLabControlPlane } from './index.ts';

describe('Lab (dual-stack, iptables, on a shared control plane)', () => {
  let cp: ControlPlane;
  let lab: Lab;

  beforeAll(async () => {
    cp = await startLabControlPlane();
    lab = await Lab.start({ backend: 'iptables', family: 'dual', nodes: 3, controlPlane: cp });
  });
  afterAll(async () => {
    await lab?.destroy();
    await cp?.stop();
  });

  it('registers a Node per node namespace: its InternalIPs in both families, pod CIDRs and a zone', async () => {
    const nodes = (await lab.api.call<{ items: V1Node[] }>('GET', '/api/v1/nodes')).items;
    expect(nodes.map((n) => n.metadata?.name)).toEqual(['node-1', 'node-2', 'node-3']);
    for (const [i, node] of lab.nodes.entries()) {
      const object = nodes[i]!;
      expect(object.status?.addresses?.filter((a) => a.type === 'InternalIP').map((a) => a.address)).toEqual(node.ips);
      expect(object.spec?.podCIDRs).toEqual(node.podCidrs);
      expect(object.metadata?.labels?.['topology.kubernetes.io/zone']).toBe(['zone-a', 'zone-b', 'zone-c'][i]);
    }
  });

  it('lets a node reach the API through the relay, verifying the apiserver certificate', async () => {
    const before = lab.relay.connections;
    const node = lab.nodes[1]!;
    const readyz = await node.exec(k8sBinary('kubectl'), [`--kubeconfig=${path.join(lab.dir, 'node-kubeconfig')}`, 'get', '--raw', '/readyz']);
    expect(readyz.trim()).toBe('ok');
    expect(lab.relay.connections).toBeGreaterThan(before);
    expect(lab.relay.url).toBe('https://10.99.0.101:6443');
  });

  it('runs the proxy on every node from the kube source, which programs a new Service on each', async () => {
    await lab.api.ensureNamespace('t1');
    const svc = await lab.workloads.createService('t1', { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } });
    const [v4, v6] = svc.spec?.clusterIPs ?? [];
    expect(v6).toMatch(/:/);
    for (const node of lab.nodes) {
      expect(lab.proxy(node.name).processes.every((p) => p.process.running)).toBe(true);
      const deadline = Date.now() + 30_000;
      let saved = ['', ''];
      const programmed = () => saved[0]!.includes(`-d ${v4}/32`) && saved[1]!.includes(`-d ${v6}/128`);
      while (Date.now() < deadline && !programmed()) {
        saved = await Promise.all([node.iptablesSave({ table: 'filter' }), node.iptablesSave({ family: 'ipv6', table: 'filter' })]);
      }
      expect(saved[0], node.name).toContain(`-d ${v4}/32`);
      expect(saved[1], node.name).toContain(`-d ${v6}/128`);
    }
    await lab.workloads.deleteService('t1', 'web');
  });

  it('writes EndpointSlices as the endpointslice controller does, one per family, following the pods', async () => {
    await lab.api.ensureNamespace('t2');
    const slices = async () =>
      (await lab.api.call<{ items: V1EndpointSlice[] }>('GET', '/apis/discovery.k8s.io/v1/namespaces/t2/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb')).items.sort((a, b) =>
        (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''),
      );
    await lab.workloads.createService('t2', { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
    expect((await slices()).map((s) => [s.metadata?.name, s.addressType, s.endpoints?.length ?? 0])).toEqual([
      ['web-ipv4', 'IPv4', 0],
      ['web-ipv6', 'IPv6', 0],
    ]);
    const pod = await lab.workloads.createPod({ namespace: 't2', name: 'web-1', node: 'node-2', labels: { app: 'web' }, ports: [{ containerPort: 8080, protocol: 'TCP' }] });
    let [v4, v6] = await slices();
    expect(v4?.endpoints).toEqual([
      expect.objectContaining({ addresses: [pod.ip('ipv4')], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'node-2', zone: 'zone-b' }),
    ]);
    expect(v6?.endpoints?.[0]?.addresses).toEqual([pod.ip('ipv6')]);
    await lab.workloads.terminate(pod);
    [v4] = await slices();
    expect(v4?.endpoints?.[0]?.conditions).toEqual({ ready: false, serving: true, terminating: true });
    await lab.workloads.deletePod(pod);
    [v4, v6] = await slices();
    expect([v4?.endpoints?.length ?? 0, v6?.endpoints?.length ?? 0]).toEqual([0, 0]);
    await lab.workloads.deleteService('t2', 'web');
    expect(await slices()).toEqual([]);
  });

  it('on destroy, removes its namespaces, Node objects and files, and leaves the shared control plane running', async () => {
    const prefix = lab.topology.prefix;
    await lab.workloads.createPod({ namespace: 't3', name: 'left', node: 'node-1', ports: [{ containerPort: 8080, protocol: 'TCP' }] });
    await lab.destroy();
    expect((await listNamespaces()).filter((n) => n.startsWith(prefix))).toEqual([]);
    expect(existsSync(lab.dir)).toBe(false);
    expect((await lab.api.call<{ items: V1Node[] }>('GET', '/api/v1/nodes')).items).toEqual([]);
    expect(await lab.api.call<{ major?: string }>('GET', '/version')).toMatchObject({ major: '1' });
  });
});
