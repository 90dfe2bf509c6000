import { describe, expect, it } from 'vitest';
import { nodeView, viewChanges, type LocalState } from '../../model/index.ts';
import { changesBetween } from '../../model/testing.ts';
import { fixtureObjectsAfterEndpointChange, fixtureState, nodeIPv4 } from '../common/testing.ts';
import { decodeEndpointKey, decodeServiceValue, hex, serviceKey, unhex, type MapOp } from './maps.ts';
import { MapPlanner, diff } from './plan.ts';

const bytes = (h: string) => unhex(h.split(' '));
const svcOf = (ops: MapOp[], ip: string, family: 'IPv4' | 'IPv6', port: number, proto: 'TCP' | 'UDP' = 'TCP') => {
  const key = hex(serviceKey(ip, family, port, proto));
  const o = ops.find((x) => x.op === 'update' && x.key === key && x.map === (family === 'IPv4' ? 'kpng_svc4' : 'kpng_svc6'));
  return o && o.op === 'update' ? decodeServiceValue(bytes(o.value)) : undefined;
};

describe('MapPlanner', () => {
  const state = fixtureState();

  it('NodePort frontends follow --nodeport-addresses (the same addresses the nft table answers on)', () => {
    const p = new MapPlanner(['IPv4']);
    p.setNodePortIPs({ IPv4: ['192.168.7.5', '10.0.0.9'] });
    const { ops } = p.plan(nodeView(state), undefined);
    expect(svcOf(ops, '192.168.7.5', 'IPv4', 3004)).toEqual(svcOf(ops, '172.30.0.44', 'IPv4', 80));
    expect(svcOf(ops, '10.0.0.9', 'IPv4', 3004)).toBeDefined();
    expect(svcOf(ops, nodeIPv4, 'IPv4', 3004)).toBeUndefined();
  });

  it('writes a frontend per cluster IP, external IP, LB IP and node IP:NodePort, each naming its endpoint set', () => {
    const p = new MapPlanner(['IPv4', 'IPv6']);
    const { ops } = p.plan(nodeView(state), undefined);
    expect(ops.every((o) => o.op === 'update')).toBe(true);
    const svc1 = svcOf(ops, '172.30.0.41', 'IPv4', 80)!;
    expect(svc1.count).toBe(2);
    expect(svcOf(ops, 'fd00:30::41', 'IPv6', 80)!.count).toBe(2);
    expect(svcOf(ops, '192.168.99.33', 'IPv4', 80)).toEqual(svcOf(ops, '172.30.0.44', 'IPv4', 80));
    expect(svcOf(ops, nodeIPv4, 'IPv4', 3004)).toEqual(svcOf(ops, '172.30.0.44', 'IPv4', 80));
    expect(svcOf(ops, '1.2.3.4', 'IPv4', 80)!.count).toBe(2);
    expect(svcOf(ops, '172.30.0.50', 'IPv4', 53, 'UDP')!.count).toBe(1);
    // Endpoint slots of svc1's set are written, 0 and 1.
    const slots = ops.filter((o) => o.map === 'kpng_be' && decodeEndpointKey(bytes(o.key)).id === svc1.id).map((o) => decodeEndpointKey(bytes(o.key)).slot);
    expect(slots.sort()).toEqual([0, 1]);
    // Endpoint slots come before the frontends that point at them.
    expect(ops.findIndex((o) => o.map !== 'kpng_be')).toBeGreaterThan(ops.findLastIndex((o) => o.map === 'kpng_be'));
  });

  it('refuses (count 0) a service without endpoints and one whose policy leaves none, and keeps the affinity timeout', () => {
    const { ops } = new MapPlanner(['IPv4']).plan(nodeView(state), undefined);
    expect(svcOf(ops, '172.30.0.46', 'IPv4', 80)!.count).toBe(0);
    expect(svcOf(ops, '9.10.11.12', 'IPv4', 80)!.count).toBe(0);
    expect(svcOf(ops, '172.30.0.47', 'IPv4', 80)!.count).toBe(0);
    expect(svcOf(ops, '172.30.0.45', 'IPv4', 80)!.affinityTimeoutSeconds).toBe(10800);
  });

  it('leaves LB IPs with source ranges to the packet path', () => {
    const { ops } = new MapPlanner(['IPv4']).plan(nodeView(state), undefined);
    expect(svcOf(ops, '5.6.7.8', 'IPv4', 80)).toBeUndefined();
    expect(svcOf(ops, nodeIPv4, 'IPv4', 3005)!.count).toBe(2);
  });

  it('sends the node\'s own traffic to externalTrafficPolicy=Local frontends to the cluster-wide endpoints', () => {
    const { ops } = new MapPlanner(['IPv4']).plan(nodeView(state), undefined);
    // svc3: ETP Local, its only endpoint on node-b.
    expect(svcOf(ops, nodeIPv4, 'IPv4', 3003)!.count).toBe(1);
  });

  it('plans nothing when nothing changed, and only the changed slot and count after one endpoint is added', () => {
    const p = new MapPlanner(['IPv4', 'IPv6']);
    p.plan(nodeView(state), undefined).commit();
    expect(p.plan(nodeView(state), undefined).ops).toEqual([]);
    const next = fixtureState(fixtureObjectsAfterEndpointChange());
    const { ops } = p.plan(nodeView(next), changesBetween(state, next));
    expect(ops.map((o) => `${o.op} ${o.map}`)).toEqual(['update kpng_be', 'update kpng_svc4']);
    expect(decodeEndpointKey(bytes(ops[0]!.key)).slot).toBe(2);
    expect(decodeServiceValue(bytes((ops[1] as { value: string }).value)).count).toBe(3);
  });

  it('deletes every entry of a removed service port, frontends before slots, and reuses its set id', () => {
    const p = new MapPlanner(['IPv4', 'IPv6']);
    p.plan(nodeView(state), undefined).commit();
    const key = [...state.servicePorts.keys()].find((k) => k.startsWith('ns1/svc1'))!;
    const without = { ...state, servicePorts: new Map([...state.servicePorts].filter(([k]) => k !== key)) };
    const { ops, commit } = p.plan(nodeView(without), only(state, without, key));
    expect(ops.map((o) => `${o.op} ${o.map}`)).toEqual(['delete kpng_svc4', 'delete kpng_svc6', 'delete kpng_be', 'delete kpng_be', 'delete kpng_be', 'delete kpng_be']);
    commit();
    const again = p.plan(nodeView(state), only(without, state, key)).ops;
    expect(again.filter((o) => o.op === 'update')).toHaveLength(6);
  });

  it('a full plan against dumped map contents deletes entries nobody planned and rewrites altered ones', () => {
    const p = new MapPlanner(['IPv4']);
    const first = p.plan(nodeView(state), undefined);
    first.commit();
    const actual = p.image();
    const someKey = [...actual.keys()].find((k) => k.startsWith('kpng_svc4'))!;
    actual.set(someKey, '00 00 00 00 00 00 00 00 00 00 00 00');
    actual.set('kpng_svc4\tc6 33 64 01 00 50 06 00', '01 00 00 00 01 00 00 00 00 00 00 00');
    const { ops } = p.plan(nodeView(state), undefined, actual);
    expect(ops).toHaveLength(2);
    expect(ops[0]).toMatchObject({ op: 'update', map: 'kpng_svc4' });
    expect(ops[1]).toEqual({ op: 'delete', map: 'kpng_svc4', key: 'c6 33 64 01 00 50 06 00' });
  });
});

describe('diff', () => {
  it('orders slot writes, frontend writes, frontend deletes, slot deletes', () => {
    const before = new Map([['kpng_be\ta', '1'], ['kpng_svc4\tb', '1']]);
    const after = new Map([['kpng_svc4\tc', '1'], ['kpng_be\td', '1']]);
    expect(diff(before, after).map((o) => `${o.op} ${o.key}`)).toEqual(['update d', 'update c', 'delete b', 'delete a']);
  });
});

/** The changes from `prev` to `next` of one service port. */
function only(prev: LocalState, next: LocalState, key: string) {
  return viewChanges(nodeView(prev), nodeView(next), [key]);
}
