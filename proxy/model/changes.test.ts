import { describe, expect, it } from 'vitest';
import { localChanges } from './changes.ts';
import { ClusterState, mergeDelta, emptyDelta } from './cluster-state.ts';
import { computeLocalState, updateLocalState } from './local-state.ts';
import { node, service, slice } from './testing.ts';

const opts = { nodeName: 'node-a' };

function setup() {
  const cluster = new ClusterState();
  cluster.replaceAll([
    service('web', { ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] }),
    service('db', { clusterIPs: ['10.96.0.20'] }),
    slice('web-1', 'web', ['10.244.1.2'], { ports: [{ name: 'http', port: 8080 }, { name: 'https', port: 8443 }] }),
    slice('db-1', 'db', ['10.244.1.3']),
  ]);
  return { cluster, state: computeLocalState(cluster, opts) };
}

describe('change set between two local states', () => {
  it('is empty when nothing changed', () => {
    const { cluster, state } = setup();
    expect(localChanges(state, computeLocalState(cluster, opts)).servicePorts.size).toBe(0);
  });

  it('names only the ports whose endpoints changed', () => {
    const { cluster, state } = setup();
    const { delta } = cluster.upsert(slice('web-1', 'web', ['10.244.1.2'], { ports: [{ name: 'http', port: 8080 }, { name: 'https', port: 9443 }] }));
    const next = updateLocalState(state, cluster, delta, opts);
    expect([...localChanges(state, next).servicePorts]).toEqual(['default/web:https']);
  });

  it('names the ports of a deleted Service and of a new one', () => {
    const { cluster, state } = setup();
    const d = emptyDelta();
    mergeDelta(d, cluster.delete('Service', 'default/db').delta);
    mergeDelta(d, cluster.upsert(service('cache', { clusterIPs: ['10.96.0.30'] })).delta);
    const next = updateLocalState(state, cluster, d, opts);
    expect([...localChanges(state, next).servicePorts].sort()).toEqual(['default/cache', 'default/db']);
  });

  it('with no previous state, everything is new', () => {
    const { state } = setup();
    expect(localChanges(undefined, state).servicePorts.size).toBe(3);
  });

  it('shares unchanged entries with the previous state', () => {
    const { cluster, state } = setup();
    const { delta } = cluster.upsert(slice('db-1', 'db', ['10.244.1.4']));
    const next = updateLocalState(state, cluster, delta, opts);
    expect(next.servicePorts.get('default/web:http')).toBe(state.servicePorts.get('default/web:http'));
  });

  it('a zone change of this node recomputes topology for every Service', () => {
    const cluster = new ClusterState();
    cluster.replaceAll([
      node('node-a', { zone: 'z1' }),
      service('web'),
      slice('web-1', 'web', [{ ip: '10.244.1.2', zoneHints: ['z1'] }, { ip: '10.244.2.2', zoneHints: ['z2'] }]),
    ]);
    const state = computeLocalState(cluster, opts);
    expect(state.servicePorts.get('default/web')!.internalEndpoints.map((e) => e.address)).toEqual(['10.244.1.2']);
    const { delta } = cluster.upsert(node('node-a', { zone: 'z2' }));
    const next = updateLocalState(state, cluster, delta, opts);
    expect(next.servicePorts.get('default/web')!.internalEndpoints.map((e) => e.address)).toEqual(['10.244.2.2']);
    const changes = localChanges(state, next);
    expect(changes.node).toBe(true);
    expect([...changes.servicePorts]).toEqual(['default/web']);
  });

  it('incremental updates agree with computing from scratch over a run of random edits', () => {
    const cluster = new ClusterState();
    let state = computeLocalState(cluster, opts);
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let step = 0; step < 300; step++) {
      const s = `svc-${rand(8)}`;
      const op = rand(4);
      const { delta } =
        op === 0
          ? cluster.upsert(service(s, { clusterIPs: [`10.96.0.${rand(200) + 1}`], itp: rand(2) ? 'Local' : 'Cluster' }))
          : op === 1
            ? cluster.delete('Service', `default/${s}`)
            : op === 2
              ? cluster.upsert(slice(`${s}-${rand(2)}`, s, [{ ip: `10.244.${rand(3)}.${rand(250) + 1}`, node: rand(2) ? 'node-a' : 'node-b', ready: rand(3) > 0 }]))
              : cluster.delete('EndpointSlice', `default/${s}-${rand(2)}`);
      const before = state;
      state = updateLocalState(state, cluster, delta, opts);
      // The O(changes) path (lineage) and the full comparison agree.
      expect([...localChanges(before, state).servicePorts].sort()).toEqual([...localChanges({ ...before }, state).servicePorts].sort());
      const fresh = computeLocalState(cluster, opts);
      expect(localChanges(fresh, state).servicePorts.size).toBe(0);
      expect(state.servicePorts.size).toBe(fresh.servicePorts.size);
    }
  });
});
