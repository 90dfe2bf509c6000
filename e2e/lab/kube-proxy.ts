// test/e2e/network/networking.go "should check kube-proxy urls": on every node,
// :10256/healthz answers 200 and :10249/proxyMode names the mode; plus /metrics carries
// kube-proxy's sync metrics, network programming latency among them (measured from the
// EndpointSlices' last-change-trigger-time, which the lab's controller sets).
import { proxyModeOf } from '../../harness/config/index.ts';
import { notYet, pass, type LabSpec } from '../../harness/lab/suite/index.ts';
import { SERVICE_PORT, testService } from './support.ts';

export const kubeProxyUrls: LabSpec = {
  id: 'kube-proxy-urls',
  upstream: '[sig-network] Networking should check kube-proxy urls',
  source: 'test/e2e/network/networking.go',
  async run(ctx) {
    // What /proxyMode answers: the backend descriptor's word (kpng backends --json).
    const mode = proxyModeOf(ctx.lab.backend);
    // A Service whose endpoint appears now: every node programs it, and times how long that took.
    const svc = await ctx.service(testService('urls-test'));
    const pod = await ctx.pod('pod1', { node: ctx.nodes[0]!, labels: { app: 'urls-test' } });
    const client = await ctx.clientPod('client', ctx.nodes[0]!);
    await ctx.traffic.servedBy(client.netns, ctx.clusterTarget(svc, SERVICE_PORT), [pod.name]);
    for (const node of ctx.nodes) {
      const healthz = await node.httpGet('http://127.0.0.1:10256/healthz');
      ctx.expect(healthz.status === 200, `${node.name}: :10256/healthz answered ${healthz.status}: ${healthz.body}`);
      const report = JSON.parse(healthz.body) as { healthy?: boolean; lastUpdated?: string };
      ctx.expect(report.healthy === true && typeof report.lastUpdated === 'string', `${node.name}: /healthz body is not kube-proxy's (healthy, lastUpdated): ${healthz.body}`);
      const proxyMode = await node.httpGet('http://127.0.0.1:10249/proxyMode');
      ctx.expect(proxyMode.status === 200 && proxyMode.body.trim() === mode, `${node.name}: :10249/proxyMode answered ${proxyMode.status} "${proxyMode.body.trim()}", expected "${mode}"`);
      await ctx.waitFor(`${node.name}: :10249/metrics reporting a sync`, async () => {
        const metrics = await node.httpGet('http://127.0.0.1:10249/metrics');
        const count = /^kubeproxy_sync_proxy_rules_duration_seconds_count(?:\{[^}]*\})? (\d+)/m.exec(metrics.body);
        return count && Number(count[1]) > 0 ? pass(undefined) : notYet(`status ${metrics.status}, no kubeproxy_sync_proxy_rules_duration_seconds_count above 0`);
      });
      await ctx.waitFor(`${node.name}: :10249/metrics timing network programming`, async () => {
        const metrics = await node.httpGet('http://127.0.0.1:10249/metrics');
        const count = /^kubeproxy_network_programming_duration_seconds_count(?:\{[^}]*\})? (\d+)/m.exec(metrics.body);
        return count && Number(count[1]) > 0 ? pass(undefined) : notYet('no kubeproxy_network_programming_duration_seconds_count above 0');
      });
    }
  },
};
