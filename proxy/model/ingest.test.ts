// What a user writes is checked against Kubernetes' own syntax on ingest: an object whose
// names would reach the node's rules malformed is skipped with a warning naming the field
// and what is accepted; everything else goes on.
import { describe, expect, it } from 'vitest';
import { ClusterState } from './cluster-state.ts';
import { ingestEndpointSlice, ingestService } from './ingest.ts';
import { computeLocalState } from './local-state.ts';
import { node, service, slice } from './testing.ts';
import { formatWarning } from './types.ts';

/** The namespace of the report: a quote and a newline add a rule to the node. */
const injection = 'x"\n-A INPUT -j DROP\n#';

function withMeta<T extends { metadata?: unknown }>(obj: T, patch: (m: Record<string, unknown>) => void): T {
  const copy = structuredClone(obj);
  patch(copy.metadata as Record<string, unknown>);
  return copy;
}

function withEndpoint<T>(obj: T, patch: (e: Record<string, unknown>) => void): T {
  const copy = structuredClone(obj) as { endpoints: Array<Record<string, unknown>> };
  patch(copy.endpoints[0]!);
  return copy as T;
}

describe('names and port names: malformed ones skip the object with one warning naming the field', () => {
  const good = service('good');
  const goodSlice = slice('good-1', 'good', ['10.244.1.2']);
  const cases: Array<{ name: string; bad: unknown; kind: string; field: string; accepted: RegExp }> = [
    { name: 'the issue’s namespace (a quote, a newline and a rule)', bad: service('bad', { namespace: injection }), kind: 'Service', field: 'metadata.namespace', accepted: /DNS-1123 label/ },
    { name: 'a namespace of capitals', bad: service('bad', { namespace: 'Shop' }), kind: 'Service', field: 'metadata.namespace', accepted: /DNS-1123 label/ },
    { name: 'a Service name starting with a digit (DNS-1035, as the API server)', bad: service('1web'), kind: 'Service', field: 'metadata.name', accepted: /DNS-1035 label/ },
    { name: 'a Service name with a dot', bad: service('web.shop'), kind: 'Service', field: 'metadata.name', accepted: /DNS-1035 label/ },
    { name: 'a Service port name with a quote', bad: service('bad', { ports: [{ name: 'http"', port: 80 }] }), kind: 'Service', field: 'spec.ports[0].name', accepted: /DNS-1123 label/ },
    { name: 'a named targetPort longer than 15 characters', bad: service('bad', { ports: [{ name: 'http', port: 80, targetPort: 'a-very-long-name' }] }), kind: 'Service', field: 'spec.ports[0].targetPort', accepted: /IANA_SVC_NAME/ },
    { name: 'a service-proxy-name label value with a space', bad: service('bad', { labels: { 'service.kubernetes.io/service-proxy-name': 'a b' } }), kind: 'Service', field: 'metadata.labels[service.kubernetes.io/service-proxy-name]', accepted: /label value/ },
    { name: 'an EndpointSlice name with a slash', bad: slice('bad/1', 'good', ['10.244.1.3']), kind: 'EndpointSlice', field: 'metadata.name', accepted: /DNS-1123 subdomain/ },
    { name: 'an EndpointSlice port name with a newline', bad: slice('bad-1', 'good', ['10.244.1.3'], { ports: [{ name: 'p\n', port: 80 }] }), kind: 'EndpointSlice', field: 'ports[0].name', accepted: /DNS-1123 label/ },
    { name: 'an endpoint hostname with a dot', bad: withEndpoint(slice('bad-1', 'good', ['10.244.1.3']), (e) => (e.hostname = 'a.b')), kind: 'EndpointSlice', field: 'endpoints[0].hostname', accepted: /DNS-1123 label/ },
    { name: 'an endpoint nodeName with a space', bad: slice('bad-1', 'good', [{ ip: '10.244.1.3', node: 'node a' }]), kind: 'EndpointSlice', field: 'endpoints[0].nodeName', accepted: /DNS-1123 subdomain/ },
    { name: 'a zone hint that is no label value', bad: slice('bad-1', 'good', [{ ip: '10.244.1.3', zoneHints: ['zone a'] }]), kind: 'EndpointSlice', field: 'endpoints[0].hints.forZones[0].name', accepted: /label value/ },
    { name: 'a node hint that is no node name', bad: slice('bad-1', 'good', [{ ip: '10.244.1.3', nodeHints: ['Node_A'] }]), kind: 'EndpointSlice', field: 'endpoints[0].hints.forNodes[0].name', accepted: /DNS-1123 subdomain/ },
    { name: 'a service-name label that no Service can have', bad: slice('bad-1', 'Good', ['10.244.1.3']), kind: 'EndpointSlice', field: 'metadata.labels[kubernetes.io/service-name]', accepted: /DNS-1035 label/ },
    { name: 'a Node name with a colon', bad: node('node:a'), kind: 'Node', field: 'metadata.name', accepted: /DNS-1123 subdomain/ },
    { name: 'a Node zone label that is no label value', bad: node('node-b', { zone: 'zone a' }), kind: 'Node', field: 'metadata.labels[topology.kubernetes.io/zone]', accepted: /label value/ },
  ];
  it.each(cases)('$name', ({ bad, kind, field, accepted }) => {
    const cluster = new ClusterState();
    const { warnings } = cluster.replaceAll([good, goodSlice, bad]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ kind, field });
    expect(warnings[0]!.message).toMatch(/is not valid \(accepted: /);
    expect(warnings[0]!.message).toMatch(accepted);
    const text = formatWarning(warnings[0]!);
    expect(text).toMatch(/^KPNG_ERR_BAD_OBJECT: skipped /);
    expect(text).toContain(field);
    expect(text).not.toContain('\n');
    // Everything else still syncs.
    const state = computeLocalState(cluster, { nodeName: 'node-a' });
    expect([...state.servicePorts.keys()]).toEqual(['default/good']);
    expect(state.servicePorts.get('default/good')?.internalEndpoints.map((e) => e.address)).toEqual(['10.244.1.2']);
  });

  it('the issue’s injection: the Service is skipped, the warning names it and the field, no rule text reaches the state', () => {
    const cluster = new ClusterState();
    const { warnings } = cluster.replaceAll([service('web', { namespace: injection }), slice('web-1', 'web', ['10.244.1.2'], { namespace: injection })]);
    expect(warnings.map(formatWarning)).toEqual([
      'KPNG_ERR_BAD_OBJECT: skipped Service "x\\"\\n-A INPUT -j DROP\\n#/web": metadata.namespace: "x\\"\\n-A INPUT -j DROP\\n#" is not valid (accepted: a DNS-1123 label (at most 63 characters: a-z, 0-9 and "-", starting and ending with a letter or digit))',
      'KPNG_ERR_BAD_OBJECT: skipped EndpointSlice "x\\"\\n-A INPUT -j DROP\\n#/web-1": metadata.namespace: "x\\"\\n-A INPUT -j DROP\\n#" is not valid (accepted: a DNS-1123 label (at most 63 characters: a-z, 0-9 and "-", starting and ending with a letter or digit))',
    ]);
    expect(computeLocalState(cluster, { nodeName: 'node-a' }).servicePorts.size).toBe(0);
  });

  it('the names Kubernetes allows at their longest pass', () => {
    const ns = 'n'.repeat(63);
    const name = 's'.repeat(63);
    const port = 'p'.repeat(63);
    const cluster = new ClusterState();
    const sliceName = `${'e'.repeat(63)}.${'e'.repeat(63)}.${'e'.repeat(63)}.${'e'.repeat(61)}`;
    const { warnings } = cluster.replaceAll([
      service(name, { namespace: ns, ports: [{ name: port, port: 80, targetPort: 'abcdefghijklmno' }] }),
      slice(sliceName, name, [{ ip: '10.244.1.2', node: 'node-a', zone: 'z'.repeat(63) }], { namespace: ns, ports: [{ name: port, port: 8080 }] }),
    ]);
    expect(warnings).toEqual([]);
    expect(computeLocalState(cluster, { nodeName: 'node-a' }).servicePorts.get(`${ns}/${name}:${port}`)?.internalEndpoints).toHaveLength(1);
  });
});

describe('labels and fields the proxy does not act on', () => {
  it('a malformed label the proxy does not read is left out; the Service is kept', () => {
    const r = ingestService(service('web', { labels: { app: 'web', 'bad key': 'x', tier: 'front end', 'example.com/ok': 'yes' } }));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value.labels).toEqual({ app: 'web', 'example.com/ok': 'yes' });
  });

  it('an endpoint zone or targetRef out of Kubernetes’ syntax is left out (the API server does not check them; they decide nothing)', () => {
    const raw = withEndpoint(slice('web-1', 'web', [{ ip: '10.244.1.2', zone: 'zone a"', pod: 'pod-1' }]), (e) => {
      (e.targetRef as Record<string, unknown>).name = 'pod"\n1';
    });
    const r = ingestEndpointSlice(raw);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.value!.endpoints[0]).not.toHaveProperty('zone');
      expect(r.value!.endpoints[0]).not.toHaveProperty('targetRef');
    }
    const fine = ingestEndpointSlice(slice('web-1', 'web', [{ ip: '10.244.1.2', zone: 'zone-a', pod: 'pod-1' }]));
    expect(fine.ok && fine.value!.endpoints[0]).toMatchObject({ zone: 'zone-a', targetRef: 'Pod/default/pod-1' });
  });

  it('an annotation value is free text (Kubernetes does not restrict it)', () => {
    const r = ingestService(withMeta(service('web'), (m) => (m.annotations = { note: 'any "text"\nat all' })));
    expect(r.ok).toBe(true);
  });
});
