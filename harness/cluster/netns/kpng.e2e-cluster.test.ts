// kpng on a cluster without Docker: the kpng image written without a daemon, imported into
// two netns nodes, the nft backend's DaemonSet as harness/manifests renders it, CoreDNS
// reaching the API server through kpng's rules, and a ClusterIP Service answering a pod on
// the other node by name.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../k8s-binaries.ts';
import { renderDocuments } from '../../manifests/index.ts';
import { ensureKpngImage, AGNHOST_IMAGE } from './index.ts';
import { netnsClusterSuite } from '../../testing/netns-cluster.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('kpng (nft) on a netns cluster, from the image written without a daemon', () => {
  const { cluster: c } = netnsClusterSuite({ nodes: 2 }, 300_000);

  it('runs the nft DaemonSet on every node, and CoreDNS gets Ready through its rules', async () => {
    const image = await ensureKpngImage(path.join(repoRoot, '.cache/netns-cluster/images'), { log: (line) => process.stderr.write(`  ${line}\n`) });
    await c().importImage(image);
    const documents = renderDocuments({ backend: 'nft', family: 'ipv4', model: 'single-process-per-node', image: image.name, apiServer: c().server });
    const applied = await c().kubectl(['apply', '-f', '-'], { input: documents.map((d) => d.yaml).join('---\n') });
    expect(applied.exitCode, applied.stderr).toBe(0);
    await c().waitForDaemonSet('kpng-system', 'kpng', 180_000);
    await c().waitForDns(120_000);
    const ruleset = await c().nodeExec('node-1', 'nft', ['list', 'tables']);
    expect(ruleset.stdout).toMatch(/table \w+ kpng/);
  }, 600_000);

  it('answers a pod on node-2 through a ClusterIP Service of a pod on node-1, by its DNS name', async () => {
    const objects = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', labels: { app: 'web' } }, spec: { nodeName: 'node-1', containers: [{ name: 'c', image: AGNHOST_IMAGE, imagePullPolicy: 'Never', args: ['netexec', '--http-port=8080'] }] } },
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } },
      ],
    };
    expect((await c().kubectl(['create', '-f', '-'], { input: JSON.stringify(objects) })).exitCode).toBe(0);
    const client = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'client' },
      spec: { nodeName: 'node-2', restartPolicy: 'Never', containers: [{ name: 'c', image: AGNHOST_IMAGE, imagePullPolicy: 'Never', command: ['sh', '-c', 'for i in $(seq 30); do curl -s -m 2 http://web.default.svc.cluster.local/hostname && exit 0; sleep 1; done; exit 1'] }] },
    };
    expect((await c().kubectl(['create', '-f', '-'], { input: JSON.stringify(client) })).exitCode).toBe(0);
    let phase = '';
    for (let i = 0; i < 120 && phase !== 'Succeeded' && phase !== 'Failed'; i++) {
      await sleep(1000);
      phase = (await c().kubectl(['get', 'pod', 'client', '-o', 'jsonpath={.status.phase}'])).stdout;
    }
    expect({ phase, answer: (await c().kubectl(['logs', 'client'])).stdout.trim() }).toEqual({ phase: 'Succeeded', answer: 'web' });
  }, 180_000);
});
