import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ClusterState, computeLocalState, emptyDelta, localChanges, mergeDelta, updateLocalState, type LocalState } from '../model/index.ts';
import { node, service, slice } from '../model/testing.ts';
import { parseSnapshot } from '../sources/file/parse.ts';
import { changeOps, endpointPath, servicePortOfEndpointPath, snapshotOps, ViewAssembler } from './convert.ts';
import { localv1, type OpItem, type OpItem__Output } from './proto.ts';

const snapshotFile = fileURLToPath(new URL('../model/testdata/dual-stack-etp-local.yaml', import.meta.url));

function clusterFromTestdata(): ClusterState {
  const cluster = new ClusterState();
  const { warnings } = cluster.replaceAll(parseSnapshot(readFileSync(snapshotFile, 'utf8'), snapshotFile));
  expect(warnings).toEqual([]);
  return cluster;
}

/** Through the wire format, as a client receives them. */
function wire(ops: OpItem[]): OpItem__Output[] {
  const { OpItem } = localv1();
  return ops.map((op) => OpItem.deserialize(OpItem.serialize(op)));
}

function applyAll(view: ViewAssembler, ops: OpItem[]): LocalState | undefined {
  let state: LocalState | undefined;
  for (const op of wire(ops)) state = view.apply(op) ?? state;
  return state;
}

describe('LocalState ⇄ localv1 ops', () => {
  it.each(['node-a', 'node-b', 'node-unknown'])('round-trips the dual-stack, externalTrafficPolicy=Local testdata seen from %s', (nodeName) => {
    const state = computeLocalState(clusterFromTestdata(), { nodeName });
    expect(state.servicePorts.size).toBeGreaterThan(0);
    const ops = snapshotOps(state);
    expect(ops[0]).toEqual({ reset: {} });
    expect(ops.at(-1)).toEqual({ sync: {} });
    const view = new ViewAssembler();
    const back = applyAll(view, ops);
    expect(back).toStrictEqual({ node: state.node, servicePorts: new Map(state.servicePorts) });
  });

  it('sends every endpoint once, with the scopes it is in', () => {
    const state = computeLocalState(clusterFromTestdata(), { nodeName: 'node-a' });
    const paths = snapshotOps(state)
      .filter((op) => op.set?.ref?.set === 'ENDPOINTS')
      .map((op) => op.set!.ref!.path);
    // web:http from node-a: the ready endpoints of both families; the terminating one is in no list.
    expect(paths).toEqual([
      'shop/web:http/10.244.1.2/8080',
      'shop/web:http/10.244.2.2/8081',
      'shop/web:http/fd00:244:1::2/8080',
      'shop/web:http/fd00:244:2::2/8080',
    ]);
    const { Endpoint } = localv1();
    const first = snapshotOps(state).find((op) => op.set?.ref?.path === 'shop/web:http/10.244.1.2/8080')!;
    const ep = Endpoint.deserialize(first.set!.bytes as Buffer);
    expect(ep).toMatchObject({ ip: '10.244.1.2', family: 'IPV4', port: 8080, local: true, nodeName: 'node-a', zone: 'zone-a', targetRef: 'Pod/shop/web-0' });
    expect(ep.conditions).toEqual({ ready: true, serving: true, terminating: false });
    expect(ep.scopes).toEqual({ internal: true, external: true, cluster: true });
    // externalTrafficPolicy=Local: the endpoint on node-b takes internal traffic only.
    const remote = snapshotOps(state).find((op) => op.set?.ref?.path === 'shop/web:http/10.244.2.2/8081')!;
    expect(Endpoint.deserialize(remote.set!.bytes as Buffer).scopes).toEqual({ internal: true, external: false, cluster: true });
  });

  it('turns one state into the next with only the entries that changed', () => {
    const cluster = clusterFromTestdata();
    const opts = { nodeName: 'node-a' };
    const prev = computeLocalState(cluster, opts);
    const view = new ViewAssembler();
    const before = applyAll(view, snapshotOps(prev))!;

    // The local web pod stops serving (and the terminating one goes): node-a loses its only local IPv4 endpoint.
    const { delta } = cluster.upsert(
      slice('web-v4-a', 'web', [{ ip: '10.244.1.2', node: 'node-a', zone: 'zone-a', ready: false, serving: false, pod: 'web-0' }], {
        namespace: 'shop',
        ports: [{ name: 'http', port: 8080 }],
      }),
    );
    const next = updateLocalState(prev, cluster, delta, opts);
    const ops = changeOps(prev, next);
    expect(ops.some((op) => op.reset)).toBe(false);
    expect(ops.at(-1)).toEqual({ sync: {} });
    expect(ops.filter((op) => op.delete).map((op) => op.delete!.path)).toEqual(['shop/web:http/10.244.1.2/8080']);
    // Nothing about the dns Service or the node travels.
    expect(ops.some((op) => op.set?.ref?.path?.startsWith('kube-system/'))).toBe(false);
    expect(ops.some((op) => op.set?.ref?.set === 'NODE')).toBe(false);
    const back = applyAll(view, ops)!;
    expect(back).toStrictEqual({ node: next.node, servicePorts: new Map(next.servicePorts) });
    // Unchanged service ports are shared with the previous state: a backend sees one change.
    expect(localChanges(before, back)).toEqual({ servicePorts: new Set(['shop/web:http']), node: false });
    expect(back.servicePorts.get('kube-system/dns:dns')).toBe(before.servicePorts.get('kube-system/dns:dns'));
  });

  it('deletes a service port together with its endpoints, and adds new ones', () => {
    const cluster = clusterFromTestdata();
    const opts = { nodeName: 'node-b' };
    const prev = computeLocalState(cluster, opts);
    const view = new ViewAssembler();
    const before = applyAll(view, snapshotOps(prev))!;
    const d = emptyDelta();
    mergeDelta(d, cluster.delete('Service', 'shop/web').delta);
    mergeDelta(d, cluster.upsert(service('api', { namespace: 'shop', clusterIPs: ['10.96.0.20'], ports: [{ port: 443, targetPort: 8443 }] })).delta);
    mergeDelta(d, cluster.upsert(slice('api-1', 'api', [{ ip: '10.244.2.9', node: 'node-b' }], { namespace: 'shop', ports: [{ port: 8443 }] })).delta);
    // node-b loses its IPv6 address.
    mergeDelta(d, cluster.upsert(node('node-b', { zone: 'zone-b', addresses: ['10.99.0.2'] })).delta);
    const next = updateLocalState(prev, cluster, d, opts);
    const ops = changeOps(prev, next);
    const deleted = ops.filter((op) => op.delete).map((op) => `${op.delete!.set}:${op.delete!.path}`);
    expect(deleted).toContain('SERVICE_PORTS:shop/web:http');
    expect(deleted.filter((x) => x.startsWith('ENDPOINTS:shop/web:http/'))).toHaveLength(4);
    const after = applyAll(view, ops)!;
    expect(after).toStrictEqual({ node: next.node, servicePorts: new Map(next.servicePorts) });
    expect(localChanges(before, after)).toEqual({ servicePorts: new Set(['shop/api', 'shop/web:http']), node: true });
    expect(after.servicePorts.get('kube-system/dns:dns')).toBe(before.servicePorts.get('kube-system/dns:dns'));
  });

  it('yields nothing between two equal states', () => {
    const state = computeLocalState(clusterFromTestdata(), { nodeName: 'node-a' });
    const again = computeLocalState(clusterFromTestdata(), { nodeName: 'node-a' });
    expect(changeOps(state, again)).toEqual([]);
  });

  it('keeps the previous state across a reconnect and shares what did not change', () => {
    const state = computeLocalState(clusterFromTestdata(), { nodeName: 'node-a' });
    const view = new ViewAssembler();
    const first = applyAll(view, snapshotOps(state))!;
    view.newStream();
    const second = applyAll(view, snapshotOps(state))!;
    expect(second).not.toBe(first);
    for (const [key, sp] of second.servicePorts) expect(sp).toBe(first.servicePorts.get(key));
    expect(second.node).toBe(first.node);
    expect(localChanges(first, second)).toEqual({ servicePorts: new Set(), node: false });
  });
});

describe('endpoint paths', () => {
  it.each([
    ['shop/web:http', '10.244.1.2', 8080],
    ['shop/web', 'fd00:244:1::2', 53],
  ])('%s %s %d', (sp, ip, port) => {
    const path = endpointPath(sp, ip, port);
    expect(servicePortOfEndpointPath(path)).toBe(sp);
  });
  it('rejects paths without the two trailing parts', () => {
    expect(servicePortOfEndpointPath('10.0.0.1/80')).toBeUndefined();
    expect(servicePortOfEndpointPath('x')).toBeUndefined();
  });
});

describe('ops the protocol does not allow', () => {
  const state = computeLocalState(clusterFromTestdata(), { nodeName: 'node-a' });
  const snapshot = snapshotOps(state);

  const cases: Array<{ name: string; ops: OpItem[]; error: RegExp }> = [
    { name: 'an entry before Reset', ops: snapshot.slice(1), error: /KPNG_ERR_API_PROTOCOL: an entry arrived before the first Reset/ },
    { name: 'Sync without the node', ops: [{ reset: {} }, { sync: {} }], error: /ended without the node entry/ },
    {
      name: 'an endpoint without its service port',
      ops: snapshot.filter((op) => op.set?.ref?.set !== 'SERVICE_PORTS'),
      error: /endpoints of "kube-system\/dns:dns"|endpoints of "shop\/web:http" are left without their service port/,
    },
    {
      name: 'a service port under the wrong path',
      ops: [{ reset: {} }, { set: { ref: { set: 'SERVICE_PORTS', path: 'shop/other' }, bytes: snapshot.find((op) => op.set?.ref?.set === 'SERVICE_PORTS')!.set!.bytes! } }],
      error: /service port entry "shop\/other" describes/,
    },
    {
      name: 'undecodable bytes',
      ops: [{ reset: {} }, { set: { ref: { set: 'NODE', path: 'node-a' }, bytes: Buffer.from([0xff, 0xff, 0xff]) } }],
      error: /cannot decode the Node of "node-a"/,
    },
    { name: 'an unknown set', ops: [{ reset: {} }, { delete: { set: 7 as never, path: 'x' } }], error: /set "7" \(accepted: SERVICE_PORTS, NODE, ENDPOINTS\)/ },
    { name: 'an empty op', ops: [{ reset: {} }, {}], error: /an op with no operation/ },
  ];
  it.each(cases)('$name', ({ ops, error }) => {
    expect(() => applyAll(new ViewAssembler(), ops)).toThrow(error);
  });
});
