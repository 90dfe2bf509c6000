import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { endpointSlicesFor, nodeObject, planSlices, type PodInfo } from './objects.ts';
import { withFamilyDefaults } from './workloads.ts';

const service = (spec: V1Service['spec'], labels?: Record<string, string>): V1Service => ({
  metadata: { name: 'web', namespace: 'ns', uid: 'u-1', ...(labels && { labels }) },
  spec: { selector: { app: 'web' }, ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }], ipFamilies: ['IPv4'], ...spec },
});

const pod = (name: string, over: Partial<PodInfo> = {}): PodInfo => ({
  name,
  namespace: 'ns',
  labels: { app: 'web' },
  nodeName: 'node-1',
  zone: 'zone-a',
  ips: ['10.244.1.2', 'fd00:244:0:1::2'],
  ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
  ready: true,
  terminating: false,
  ...over,
});

describe('endpointSlicesFor (the endpointslice controller of the lab)', () => {
  it('writes one slice per family of the Service, with its labels, the managed-by and service-name labels and an owner', () => {
    const slices = endpointSlicesFor(service({ ipFamilies: ['IPv4', 'IPv6'] }, { team: 'a' }), [pod('p1')]);
    expect(slices.map((s) => [s.metadata?.name, s.addressType, s.endpoints?.[0]?.addresses])).toEqual([
      ['web-ipv4', 'IPv4', ['10.244.1.2']],
      ['web-ipv6', 'IPv6', ['fd00:244:0:1::2']],
    ]);
    expect(slices[0]?.metadata?.labels).toEqual({ team: 'a', 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'kpng-lab' });
    expect(slices[0]?.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Service', name: 'web', uid: 'u-1', controller: true });
    expect(slices[0]?.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 8080 }]);
    expect(slices[0]?.endpoints?.[0]).toMatchObject({ nodeName: 'node-1', zone: 'zone-a', targetRef: { kind: 'Pod', namespace: 'ns', name: 'p1' } });
  });

  it('sets the conditions as the controller does: ready unless terminating, serving while ready, terminating while being deleted', () => {
    const [slice] = endpointSlicesFor(service({}), [pod('a'), pod('b', { ready: false }), pod('c', { terminating: true }), pod('d', { terminating: true, ready: false })]);
    expect(slice?.endpoints?.map((e) => [e.targetRef?.name, e.conditions])).toEqual([
      ['a', { ready: true, serving: true, terminating: false }],
      ['b', { ready: false, serving: false, terminating: false }],
      ['c', { ready: false, serving: true, terminating: true }],
      ['d', { ready: false, serving: false, terminating: true }],
    ]);
  });

  it('counts every pod ready with publishNotReadyAddresses, terminating ones too', () => {
    const [slice] = endpointSlicesFor(service({ publishNotReadyAddresses: true }), [pod('b', { ready: false }), pod('c', { terminating: true })]);
    expect(slice?.endpoints?.map((e) => e.conditions?.ready)).toEqual([true, true]);
  });

  it('resolves named target ports per pod and puts pods whose ports differ in different slices', () => {
    const svc = service({ ports: [{ name: 'p1', protocol: 'TCP', port: 80, targetPort: 'svc1' }, { name: 'p2', protocol: 'TCP', port: 81, targetPort: 'svc2' }] });
    const slices = endpointSlicesFor(svc, [
      pod('a', { ports: [{ name: 'svc1', containerPort: 100, protocol: 'TCP' }] }),
      pod('b', { ports: [{ name: 'svc2', containerPort: 101, protocol: 'TCP' }] }),
    ]);
    expect(slices.map((s) => [s.metadata?.name, s.ports, s.endpoints?.map((e) => e.targetRef?.name)])).toEqual([
      ['web-ipv4', [{ name: 'p1', protocol: 'TCP', port: 100 }], ['a']],
      ['web-ipv4-1', [{ name: 'p2', protocol: 'TCP', port: 101 }], ['b']],
    ]);
  });

  it('selects by labels within the namespace, and leaves Services without a selector alone', () => {
    const slices = endpointSlicesFor(service({}), [pod('a'), pod('other-app', { labels: { app: 'db' } }), pod('elsewhere', { namespace: 'other' })]);
    expect(slices[0]?.endpoints?.map((e) => e.targetRef?.name)).toEqual(['a']);
    expect(endpointSlicesFor(service({ selector: undefined }), [pod('a')])).toEqual([]);
  });

  it('writes an empty slice for a Service without endpoints', () => {
    const [slice] = endpointSlicesFor(service({}), []);
    expect(slice).toMatchObject({ metadata: { name: 'web-ipv4' }, endpoints: [], ports: [{ name: 'http', protocol: 'TCP', port: 8080 }] });
  });

  it('labels the slices of a headless Service as headless', () => {
    const [slice] = endpointSlicesFor(service({ clusterIP: 'None' }), [pod('a')]);
    expect(slice?.metadata?.labels?.['service.kubernetes.io/headless']).toBe('');
  });

  it('gives zone hints for trafficDistribution PreferClose (and node hints for PreferSameNode)', () => {
    expect(endpointSlicesFor(service({ trafficDistribution: 'PreferClose' }), [pod('a')])[0]?.endpoints?.[0]?.hints).toEqual({ forZones: [{ name: 'zone-a' }] });
    expect(endpointSlicesFor(service({ trafficDistribution: 'PreferSameNode' }), [pod('a')])[0]?.endpoints?.[0]?.hints).toEqual({
      forZones: [{ name: 'zone-a' }],
      forNodes: [{ name: 'node-1' }],
    });
    expect(endpointSlicesFor(service({}), [pod('a')])[0]?.endpoints?.[0]?.hints).toBeUndefined();
  });
});

describe('planSlices', () => {
  const slice = (name: string, address: string, resourceVersion?: string): V1EndpointSlice => ({
    metadata: { name, namespace: 'ns', ...(resourceVersion && { resourceVersion }) },
    addressType: 'IPv4',
    endpoints: [{ addresses: [address] }],
  });

  it('creates new slices, updates changed ones with the resourceVersion last written, deletes the rest, and leaves equal ones alone', () => {
    const previous = new Map([
      ['same', slice('same', '10.0.0.1', '5')],
      ['changed', slice('changed', '10.0.0.2', '6')],
      ['gone', slice('gone', '10.0.0.3', '7')],
    ]);
    const plan = planSlices(previous, [slice('same', '10.0.0.1'), slice('changed', '10.0.0.9'), slice('new', '10.0.0.4')], new Date('2026-12-01T10:00:00.250Z'));
    expect(plan.create.map((s) => s.metadata?.name)).toEqual(['new']);
    expect(plan.update.map((s) => [s.metadata?.name, s.metadata?.resourceVersion, s.endpoints?.[0]?.addresses[0]])).toEqual([['changed', '6', '10.0.0.9']]);
    expect(plan.remove).toEqual(['gone']);
    for (const written of [...plan.create, ...plan.update]) expect(written.metadata?.annotations).toEqual({ 'endpoints.kubernetes.io/last-change-trigger-time': '2026-12-01T10:00:00.250Z' });
  });
});

describe('nodeObject', () => {
  it('registers a node as a kubelet does: InternalIPs per family, hostname and zone labels, pod CIDRs', () => {
    const node = nodeObject({ name: 'node-2', ips: ['10.99.0.12', 'fd00:99::12'], podCidrs: ['10.244.2.0/24', 'fd00:244:0:2::/64'], zone: 'zone-b' });
    expect(node.metadata?.labels).toMatchObject({ 'kubernetes.io/hostname': 'node-2', 'topology.kubernetes.io/zone': 'zone-b' });
    expect(node.spec).toEqual({ podCIDR: '10.244.2.0/24', podCIDRs: ['10.244.2.0/24', 'fd00:244:0:2::/64'] });
    expect(node.status?.addresses).toEqual([
      { type: 'InternalIP', address: '10.99.0.12' },
      { type: 'InternalIP', address: 'fd00:99::12' },
      { type: 'Hostname', address: 'node-2' },
    ]);
  });
});

describe('withFamilyDefaults', () => {
  it("asks for the lab's families unless the Service chose", () => {
    expect(withFamilyDefaults({ spec: {} }, 'dual').spec).toEqual({ ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] });
    expect(withFamilyDefaults({ spec: {} }, 'ipv6').spec).toEqual({ ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv6'] });
    expect(withFamilyDefaults({ spec: { ipFamilyPolicy: 'PreferDualStack' } }, 'ipv4').spec).toEqual({ ipFamilyPolicy: 'PreferDualStack' });
  });
});
