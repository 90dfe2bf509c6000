import { describe, expect, it } from 'vitest';
import { ClusterState, changeTriggerTimesMax, emptyDelta, mergeDelta } from './cluster-state.ts';
import { computeLocalState } from './local-state.ts';
import { formatWarning } from './types.ts';
import { service, slice } from './testing.ts';

function withSpec(obj: ReturnType<typeof service>, patch: (spec: Record<string, unknown>) => void) {
  const copy = structuredClone(obj);
  patch(copy.spec as Record<string, unknown>);
  return copy;
}

describe('malformed objects are skipped with one warning naming the object and the field', () => {
  const good = service('good');
  const cases: Array<{ name: string; bad: unknown; field: string; message: RegExp }> = [
    { name: 'a bad cluster IP', bad: service('bad', { clusterIPs: ['10.96.0.300'] }), field: 'spec.clusterIPs[0]', message: /not an IPv4 or IPv6 address/ },
    { name: 'a port out of range', bad: service('bad', { ports: [{ port: 70000 }] }), field: 'spec.ports[0].port', message: /accepted: 1-65535/ },
    { name: 'an unknown protocol', bad: service('bad', { ports: [{ port: 80, protocol: 'ICMP' }] }), field: 'spec.ports[0].protocol', message: /accepted: TCP, UDP, SCTP/ },
    { name: 'a missing cluster IP', bad: withSpec(service('bad'), (s) => { delete s.clusterIP; delete s.clusterIPs; }), field: 'spec.clusterIP', message: /missing/ },
    { name: 'a missing name', bad: { kind: 'Service', metadata: {}, spec: {} }, field: 'metadata.name', message: /missing/ },
    { name: 'a missing spec', bad: { kind: 'Service', metadata: { name: 'bad' } }, field: 'spec', message: /missing/ },
    { name: 'a bad source range', bad: service('bad', { sourceRanges: ['10.0.0.0/33'] }), field: 'spec.loadBalancerSourceRanges[0]', message: /not a CIDR/ },
    { name: 'an affinity timeout out of range', bad: service('bad', { affinity: 0 }), field: 'spec.sessionAffinityConfig.clientIP.timeoutSeconds', message: /accepted: 1-86400/ },
    { name: 'a bad endpoint address', bad: slice('bad', 'good', ['10.1.1']), field: 'endpoints[0].addresses[0]', message: /not an IPv4/ },
    { name: 'an endpoint of the wrong family', bad: slice('bad', 'good', ['fd00::1'], { addressType: 'IPv4' }), field: 'endpoints[0].addresses[0]', message: /not an IPv4 address/ },
    { name: 'a slice port out of range', bad: slice('bad', 'good', ['10.244.1.2'], { ports: [{ port: 0 }] }), field: 'ports[0].port', message: /1-65535/ },
    { name: 'an unknown kind', bad: { kind: 'Pod', metadata: { name: 'p' } }, field: 'kind', message: /accepted: Service, EndpointSlice, Node/ },
  ];
  it.each(cases)('$name', ({ bad, field, message }) => {
    const cluster = new ClusterState();
    const { warnings } = cluster.replaceAll([good, bad, slice('good-1', 'good', ['10.244.1.2'])]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.field).toBe(field);
    expect(warnings[0]!.message).toMatch(message);
    expect(formatWarning(warnings[0]!)).toContain(field);
    // Everything else still syncs.
    const state = computeLocalState(cluster, { nodeName: 'n' });
    expect(state.servicePorts.get('default/good')?.internalEndpoints.map((e) => e.address)).toEqual(['10.244.1.2']);
  });

  it('names the object in the warning', () => {
    const cluster = new ClusterState();
    const { warnings } = cluster.upsert(service('bad', { namespace: 'shop', ports: [{ port: -1 }] }));
    expect(warnings[0]).toMatchObject({ kind: 'Service', object: 'shop/bad' });
  });

  it('keeps the last good version of an object that turns malformed, and warns once', () => {
    const cluster = new ClusterState();
    cluster.upsert(service('web', { clusterIPs: ['10.96.0.10'] }));
    const bad = service('web', { clusterIPs: ['not-an-ip'] });
    expect(cluster.upsert(bad).warnings).toHaveLength(1);
    expect(cluster.upsert(bad).warnings).toHaveLength(0);
    expect(cluster.services.get('default/web')?.clusterIPs).toEqual(['10.96.0.10']);
  });
});

describe('deltas', () => {
  it('a slice change names its Service', () => {
    const cluster = new ClusterState();
    cluster.replaceAll([service('web'), service('db')]);
    const { delta } = cluster.upsert(slice('web-1', 'web', ['10.244.1.2']));
    expect([...delta.services]).toEqual(['default/web']);
  });

  it('a snapshot without an object deletes it', () => {
    const cluster = new ClusterState();
    const db = service('db', { clusterIPs: ['10.96.0.11'] });
    cluster.replaceAll([service('web'), db, slice('web-1', 'web', ['10.244.1.2'])]);
    const { delta } = cluster.replaceAll([db]);
    expect([...delta.services]).toEqual(['default/web']); // db is unchanged
    expect(cluster.services.has('default/web')).toBe(false);
    expect(cluster.slicesByService.has('default/web')).toBe(false);
  });

  it('a slice moved to another Service updates both', () => {
    const cluster = new ClusterState();
    cluster.replaceAll([service('a'), service('b'), slice('s', 'a', ['10.244.1.2'])]);
    const { delta } = cluster.upsert(slice('s', 'b', ['10.244.1.2']));
    expect([...delta.services].sort()).toEqual(['default/a', 'default/b']);
    expect(cluster.slicesByService.get('default/a')).toBeUndefined();
  });

  it("carries a slice's new last-change-trigger-time, once, for the network programming latency", () => {
    const stamped = (at: string | undefined, ip: string) => {
      const s = slice('web-1', 'web', [ip]);
      if (at !== undefined) s.metadata!.annotations = { 'endpoints.kubernetes.io/last-change-trigger-time': at };
      return s;
    };
    const cluster = new ClusterState();
    cluster.replaceAll([service('web')]);
    expect(cluster.upsert(stamped('2026-12-01T10:00:00.250Z', '10.244.1.2')).delta.changeTriggerTimes).toEqual([Date.parse('2026-12-01T10:00:00.250Z')]);
    // Another change under the same trigger time (e.g. a label): no second observation.
    const relabelled = stamped('2026-12-01T10:00:00.250Z', '10.244.1.2');
    relabelled.metadata!.labels = { ...relabelled.metadata!.labels, extra: 'x' };
    expect(cluster.upsert(relabelled).delta.changeTriggerTimes).toEqual([]);
    expect(cluster.upsert(stamped('2026-12-01T10:00:01Z', '10.244.1.3')).delta.changeTriggerTimes).toEqual([Date.parse('2026-12-01T10:00:01Z')]);
    // Unparseable or absent: the slice still counts, without a time.
    const { delta, warnings } = cluster.upsert(stamped('yesterday', '10.244.1.4'));
    expect([delta.changeTriggerTimes, warnings, [...delta.services]]).toEqual([[], [], ['default/web']]);
    expect(cluster.upsert(stamped(undefined, '10.244.1.5')).delta.changeTriggerTimes).toEqual([]);
  });

  it('snapshots list every object sorted by kind then key', () => {
    const cluster = new ClusterState();
    cluster.replaceAll([slice('s', 'b', ['10.244.1.2']), service('b'), service('a')]);
    expect(cluster.objects().map((o) => (o as { metadata: { name: string } }).metadata.name)).toEqual(['a', 'b', 's']);
  });
});

describe('change trigger times', () => {
  it('merging deltas carries at most changeTriggerTimesMax of them, the oldest, and takes 200,000 at once (no spread call)', () => {
    const many = { ...emptyDelta(), changeTriggerTimes: Array.from({ length: 200_000 }, (_, i) => i) };
    const into = mergeDelta(emptyDelta(), many);
    expect(into.changeTriggerTimes).toHaveLength(changeTriggerTimesMax);
    expect(into.changeTriggerTimes[0]).toBe(0);
    expect(into.changeTriggerTimes.at(-1)).toBe(changeTriggerTimesMax - 1);
    mergeDelta(into, { ...emptyDelta(), changeTriggerTimes: [-1] });
    expect(into.changeTriggerTimes).toHaveLength(changeTriggerTimesMax);
  });
});
