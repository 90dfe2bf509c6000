// test/e2e/network/service.go: "[sig-network] Services", the specs about reaching pods
// through a Service and about which Services the proxy serves at all.
import { labelHeadless, labelServiceProxyName } from '../../harness/lab/cluster/index.ts';
import type { LabSpec, SpecContext } from '../../harness/lab/suite/index.ts';
import { SERVICE_PORT, endpointPods, names, testService } from './support.ts';

const SERVICE_GO = 'test/e2e/network/service.go';

export const basicEndpoint: LabSpec = {
  id: 'basic-endpoint',
  upstream: '[sig-network] Services should serve a basic endpoint from pods [Conformance]',
  source: SERVICE_GO,
  async run(ctx) {
    const n1 = ctx.nodes[0]!;
    const n2 = ctx.nodes[1] ?? n1;
    const svc = await ctx.service(testService('endpoint-test2'));
    const client = await ctx.clientPod('client', n2);
    const target = ctx.clusterTarget(svc, SERVICE_PORT);
    await ctx.traffic.fails(client.netns, target, 'refused');
    const pod1 = await ctx.pod('pod1', { node: n1, labels: { app: 'endpoint-test2' } });
    await ctx.traffic.servedBy(client.netns, target, [pod1.name]);
    const pod2 = await ctx.pod('pod2', { node: n2, labels: { app: 'endpoint-test2' } });
    await ctx.traffic.servedBy(client.netns, target, [pod1.name, pod2.name]);
    await ctx.deletePod(pod1);
    await ctx.traffic.servedBy(client.netns, target, [pod2.name]);
    await ctx.deletePod(pod2);
    await ctx.traffic.fails(client.netns, target, 'refused');
  },
};

export const multiport: LabSpec = {
  id: 'multiport',
  upstream: '[sig-network] Services should serve multiport endpoints from pods [Conformance]',
  source: SERVICE_GO,
  async run(ctx) {
    const labels = { app: 'multi-endpoint-test' };
    const svc = await ctx.service({
      metadata: { name: 'multi-endpoint-test' },
      spec: {
        selector: labels,
        ports: [
          { name: 'portname1', protocol: 'TCP', port: 80, targetPort: 'svc1' },
          { name: 'portname2', protocol: 'TCP', port: 81, targetPort: 'svc2' },
        ],
      },
    });
    const n1 = ctx.nodes[0]!;
    const n2 = ctx.nodes[1] ?? n1;
    // Named target ports: each pod declares only one of them, so each is an endpoint of one Service port.
    const pod1 = await ctx.pod('pod1', { node: n1, labels, ports: [{ name: 'svc1', containerPort: 100, protocol: 'TCP' }] });
    const pod2 = await ctx.pod('pod2', { node: n2, labels, ports: [{ name: 'svc2', containerPort: 101, protocol: 'TCP' }] });
    const client = await ctx.clientPod('client', n2);
    await ctx.traffic.servedBy(client.netns, ctx.clusterTarget(svc, 80), [pod1.name]);
    await ctx.traffic.servedBy(client.netns, ctx.clusterTarget(svc, 81), [pod2.name]);
  },
};

export const nodePort: LabSpec = {
  id: 'nodeport',
  upstream: '[sig-network] Services should be able to create a functioning NodePort service [Conformance]',
  source: SERVICE_GO,
  async run(ctx) {
    const svc = await ctx.service(testService('nodeport-test', { spec: { type: 'NodePort' } }));
    const pods = await endpointPods(ctx, 'nodeport-test', ctx.nodes.slice(0, 2));
    const port = ctx.nodePort(svc);
    const client = await ctx.clientPod('execpod', ctx.nodes[0]!);
    for (const node of ctx.nodes) {
      await ctx.traffic.reaches(ctx.clients[0]!, { ip: node.ip(ctx.primary), port }, { by: names(pods) });
      await ctx.traffic.reaches(client.netns, { ip: node.ip(ctx.primary), port }, { by: names(pods) });
    }
  },
};

export const hairpin: LabSpec = {
  id: 'hairpin',
  upstream: '[sig-network] Services should allow pods to hairpin back to themselves through services',
  source: SERVICE_GO,
  requires: ['bridge-netfilter'],
  async run(ctx) {
    const svc = await ctx.service(testService('hairpin-test'));
    const [pod] = await endpointPods(ctx, 'hairpin-test', [ctx.nodes[0]!]);
    await ctx.traffic.reaches(pod!.netns, ctx.clusterTarget(svc, SERVICE_PORT), { by: [pod!.name] });
  },
};

export const recreated: LabSpec = {
  id: 'service-recreated',
  slow: true,
  upstream: '[sig-network] Services should work after the service has been recreated',
  source: SERVICE_GO,
  async run(ctx) {
    const pods = await endpointPods(ctx, 'service-deletion', ctx.nodes.slice(0, 2));
    const client = await ctx.clientPod('client', ctx.nodes[0]!);
    let svc = await ctx.service(testService('service-deletion'));
    const first = ctx.clusterTarget(svc, SERVICE_PORT);
    await ctx.traffic.reaches(client.netns, first, { by: names(pods) });
    await ctx.deleteService('service-deletion');
    await ctx.traffic.fails(client.netns, first, 'any');
    svc = await ctx.service(testService('service-deletion'));
    await ctx.traffic.reaches(client.netns, ctx.clusterTarget(svc, SERVICE_PORT), { by: names(pods) });
  },
};

export const rejectedWithoutEndpoints: LabSpec = {
  id: 'rejected-without-endpoints',
  upstream: '[sig-network] Services should be rejected when no endpoints exist',
  source: SERVICE_GO,
  async run(ctx) {
    const svc = await ctx.service(testService('no-pods', { udp: true }));
    const client = await ctx.clientPod('execpod-noendpoints', ctx.nodes[ctx.nodes.length - 1]!);
    // REJECT, not DROP: TCP gets a reset, UDP an ICMP port unreachable, both read as refused.
    await ctx.traffic.fails(client.netns, ctx.clusterTarget(svc, SERVICE_PORT), 'refused');
    await ctx.traffic.fails(client.netns, ctx.clusterTarget(svc, SERVICE_PORT, { protocol: 'UDP' }), 'refused');
  },
};

export const externalIP: LabSpec = {
  id: 'external-ip',
  upstream: '[sig-network] Services should be possible to connect to a service via ExternalIP when the external IP is not assigned to a node',
  source: SERVICE_GO,
  async run(ctx) {
    const externalIP = ctx.externalAddress(11);
    const svc = await ctx.service(testService('externalip-test', { spec: { externalIPs: [externalIP] } }));
    const pods = await endpointPods(ctx, 'externalip-test', ctx.nodes.slice(0, 2));
    // The address is not on any node: a router sends it to one of them.
    await ctx.routeFromClients(externalIP, ctx.nodes[ctx.nodes.length - 1]!);
    await ctx.traffic.reaches(ctx.clients[0]!, { ip: externalIP, port: SERVICE_PORT }, { by: names(pods) });
    const client = await ctx.clientPod('execpod', ctx.nodes[0]!);
    await ctx.traffic.reaches(client.netns, { ip: externalIP, port: SERVICE_PORT }, { by: names(pods) });
    ctx.expect(svc.spec?.externalIPs?.[0] === externalIP, `the API did not keep externalIPs (${JSON.stringify(svc.spec?.externalIPs)})`);
  },
};

/** service-proxy-name and headless labels: the upstream specs share this shape (service.go, "should implement service.kubernetes.io/..."). */
async function labelledServiceIgnored(ctx: SpecContext, label: string, value: string): Promise<void> {
  const app = 'label-test';
  const pods = await endpointPods(ctx, app, ctx.nodes.slice(0, 2));
  const client = await ctx.clientPod('execpod', ctx.nodes[0]!);
  const disabled = await ctx.service(testService('service-disabled', { app, labels: { [label]: value } }));
  const toggled = await ctx.service(testService('service-toggled', { app }));
  const toggledTarget = ctx.clusterTarget(toggled, SERVICE_PORT);
  const disabledTarget = ctx.clusterTarget(disabled, SERVICE_PORT);
  await ctx.traffic.servedBy(client.netns, toggledTarget, names(pods));
  await ctx.traffic.fails(client.netns, disabledTarget, 'any');
  await ctx.updateService('service-toggled', (s) => {
    s.metadata = { ...s.metadata, labels: { ...s.metadata?.labels, [label]: value } };
  });
  await ctx.traffic.fails(client.netns, toggledTarget, 'any');
  await ctx.updateService('service-toggled', (s) => {
    const labels = { ...s.metadata?.labels };
    delete labels[label];
    s.metadata = { ...s.metadata, labels };
  });
  await ctx.traffic.servedBy(client.netns, toggledTarget, names(pods));
  await ctx.traffic.fails(client.netns, disabledTarget, 'any');
}

export const serviceProxyName: LabSpec = {
  id: 'service-proxy-name',
  slow: true,
  upstream: '[sig-network] Services should implement service.kubernetes.io/service-proxy-name',
  source: SERVICE_GO,
  run: (ctx) => labelledServiceIgnored(ctx, labelServiceProxyName, 'foo-bar'),
};

export const headlessLabel: LabSpec = {
  id: 'headless-label',
  slow: true,
  upstream: '[sig-network] Services should implement service.kubernetes.io/headless',
  source: SERVICE_GO,
  run: (ctx) => labelledServiceIgnored(ctx, labelHeadless, ''),
};

export const preserveSourcePodIP: LabSpec = {
  id: 'preserve-source-pod-ip',
  upstream: '[sig-network] Services should preserve source pod IP for traffic thru service cluster IP [LinuxOnly]',
  source: SERVICE_GO,
  async run(ctx) {
    const svc = await ctx.service(testService('sourceip-test'));
    const [server] = await endpointPods(ctx, 'sourceip-test', [ctx.nodes[0]!]);
    const client = await ctx.clientPod('pause-pod-0', ctx.nodes[1] ?? ctx.nodes[0]!);
    await ctx.traffic.reaches(client.netns, ctx.clusterTarget(svc, SERVICE_PORT), { by: [server!.name], client: client.ip(ctx.primary) });
  },
};
