import { describe, expect, it } from 'vitest';
import { ClusterState } from './cluster-state.ts';
import { computeLocalState, updateLocalState } from './local-state.ts';
import { service, slice, type ServiceOpts } from './testing.ts';
import { formatWarning } from './types.ts';

/** A Service created at `created` (ISO time), or without a creation time. */
function svc(name: string, o: ServiceOpts & { created?: string } = {}) {
  const s = service(name, o);
  if (o.created) s.metadata!.creationTimestamp = o.created as never;
  return s;
}

const opts = { nodeName: 'node-a' };

describe('two Services claiming one frontend', () => {
  it('the older keeps a shared cluster IP:port/protocol, the other leaves that port out, with a warning naming both', () => {
    const cluster = new ClusterState();
    const objects = [
      svc('a-new', { created: '2024-05-01T00:00:00Z', clusterIPs: ['10.96.0.10'], ports: [{ name: 'http', port: 80 }, { name: 'dns', port: 53, protocol: 'UDP' }] }),
      svc('z-old', { created: '2023-01-01T00:00:00Z', clusterIPs: ['10.96.0.10'], ports: [{ name: 'http', port: 80 }] }),
      slice('a-new-1', 'a-new', ['10.244.1.1'], { ports: [{ name: 'http', port: 8080 }, { name: 'dns', port: 53, protocol: 'UDP' }] }),
    ];
    const { warnings } = cluster.replaceAll(objects);
    expect(warnings.map(formatWarning)).toEqual([
      'KPNG_ERR_BAD_OBJECT: skipped Service default/a-new: spec.ports[0]: 10.96.0.10:80/TCP (its cluster IP) is also claimed by Service default/z-old (its cluster IP), which keeps it: created earlier (2023-01-01T00:00:00.000Z); left out of default/a-new',
    ]);
    const state = computeLocalState(cluster, opts);
    expect([...state.servicePorts.keys()].sort()).toEqual(['default/a-new:dns', 'default/z-old:http']);
    // The same IP on another port or protocol is no conflict.
    expect(state.servicePorts.get('default/a-new:dns')?.internalEndpoints.map((e) => e.address)).toEqual(['10.244.1.1']);
  });

  it('an external IP, a load-balancer IP and a NodePort are left out of the newer Service only, the rest of it stays', () => {
    const cluster = new ClusterState();
    const { warnings } = cluster.replaceAll([
      svc('first', { created: '2023-01-01T00:00:00Z', type: 'LoadBalancer', clusterIPs: ['10.96.0.1'], ports: [{ port: 80, nodePort: 30080 }], externalIPs: ['192.0.2.10'], lbIngress: [{ ip: '198.51.100.7' }] }),
      svc('second', { created: '2023-06-01T00:00:00Z', type: 'LoadBalancer', clusterIPs: ['10.96.0.2'], ports: [{ port: 80, nodePort: 30080 }], externalIPs: ['192.0.2.10', '192.0.2.11'], lbIngress: [{ ip: '198.51.100.7' }] }),
    ]);
    expect(warnings.map((w) => [w.object, w.field, w.message.split(' (its')[0]])).toEqual([
      ['default/second', 'spec.externalIPs[0]', '192.0.2.10:80/TCP'],
      ['default/second', 'status.loadBalancer.ingress', '198.51.100.7:80/TCP'],
      ['default/second', 'spec.ports[0].nodePort', 'nodePort 30080/TCP'],
    ]);
    const state = computeLocalState(cluster, opts);
    expect(state.servicePorts.get('default/first')).toMatchObject({ clusterIPs: ['10.96.0.1'], externalIPs: ['192.0.2.10'], loadBalancerIPs: ['198.51.100.7'], nodePort: 30080 });
    expect(state.servicePorts.get('default/second')).toMatchObject({ clusterIPs: ['10.96.0.2'], externalIPs: ['192.0.2.11'], loadBalancerIPs: [], nodePort: 0 });
  });

  it('is decided the same way whatever the order of the objects: by namespace/name when neither has a creation time', () => {
    const a = svc('web', { namespace: 'alpha', clusterIPs: ['10.96.0.5'], externalIPs: ['192.0.2.1'] });
    const b = svc('web', { namespace: 'beta', clusterIPs: ['10.96.0.6'], externalIPs: ['192.0.2.1'] });
    const [one, two] = [new ClusterState(), new ClusterState()];
    const w1 = one.replaceAll([a, b]).warnings;
    const w2 = two.replaceAll([b, a]).warnings;
    expect(w1).toEqual(w2);
    expect(w1[0]?.message).toMatch(/claimed by Service alpha\/web .*first by namespace\/name \(neither has a creationTimestamp\); left out of beta\/web$/);
    expect(computeLocalState(one, opts)).toEqual(computeLocalState(two, opts));
  });

  it('warns once while it lasts; when the owner goes, the other gets the frontend back (also in a partial update)', () => {
    const cluster = new ClusterState();
    const owner = svc('owner', { created: '2023-01-01T00:00:00Z', clusterIPs: ['10.96.0.1'], externalIPs: ['192.0.2.10'] });
    const other = svc('other', { created: '2024-01-01T00:00:00Z', clusterIPs: ['10.96.0.2'], externalIPs: ['192.0.2.10'] });
    expect(cluster.replaceAll([owner, other]).warnings).toHaveLength(1);
    expect(cluster.replaceAll([owner, other]).warnings).toHaveLength(0);
    expect(cluster.upsert(structuredClone(other)).warnings).toHaveLength(0);
    const before = computeLocalState(cluster, opts);
    expect(before.servicePorts.get('default/other')?.externalIPs).toEqual([]);

    const { delta, warnings } = cluster.delete('Service', 'default/owner');
    expect(warnings).toEqual([]);
    expect([...delta.services].sort()).toEqual(['default/other', 'default/owner']);
    const after = updateLocalState(before, cluster, delta, opts);
    expect(after.servicePorts.get('default/other')?.externalIPs).toEqual(['192.0.2.10']);
    expect(after).toEqual(computeLocalState(cluster, opts));
    // It comes back: warned again.
    expect(cluster.upsert(owner).warnings).toHaveLength(1);
  });

  it('a Service another proxy handles claims nothing', () => {
    const cluster = new ClusterState();
    const { warnings } = cluster.replaceAll([
      svc('mine', { clusterIPs: ['10.96.0.1'], externalIPs: ['192.0.2.10'] }),
      svc('theirs', { clusterIPs: ['10.96.0.2'], externalIPs: ['192.0.2.10'], labels: { 'service.kubernetes.io/service-proxy-name': 'other' } }),
    ]);
    expect(warnings).toEqual([]);
    expect(computeLocalState(cluster, opts).servicePorts.get('default/mine')?.externalIPs).toEqual(['192.0.2.10']);
  });
});

describe('one object twice in one list', () => {
  it('the first is used, the others are skipped with one warning naming the positions', () => {
    const cluster = new ClusterState();
    const first = svc('web', { clusterIPs: ['10.96.0.1'] });
    const again = svc('web', { clusterIPs: ['10.96.0.2'] });
    const list = [first, slice('web-1', 'web', ['10.244.1.1']), again, again];
    const { warnings } = cluster.replaceAll(list);
    expect(warnings.map(formatWarning)).toEqual([
      'KPNG_ERR_BAD_OBJECT: skipped Service default/web: metadata.name: the same Service appears 3 times in one list (objects #1, #3, #4); the first (#1) is used, the others are skipped',
    ]);
    expect(cluster.services.get('default/web')?.clusterIPs).toEqual(['10.96.0.1']);
    expect(cluster.replaceAll(list).warnings).toEqual([]);
    // Fixed, then broken again: warned again.
    expect(cluster.replaceAll([first]).warnings).toEqual([]);
    expect(cluster.replaceAll([first, again]).warnings).toHaveLength(1);
  });

  it('also in a relist of one kind', () => {
    const cluster = new ClusterState();
    const { warnings } = cluster.replaceKind('EndpointSlice', [slice('web-1', 'web', ['10.244.1.1']), slice('web-1', 'web', ['10.244.1.2'])]);
    expect(warnings).toMatchObject([{ kind: 'EndpointSlice', object: 'default/web-1', field: 'metadata.name' }]);
    expect(cluster.slices.get('default/web-1')?.endpoints.map((e) => e.address)).toEqual(['10.244.1.1']);
  });
});
