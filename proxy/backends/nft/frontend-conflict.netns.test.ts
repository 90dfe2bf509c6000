// Two Services claiming one external IP:port: the model gives it to the older one, and that
// is what the kernel's service-ips map holds after a real `kpng ... to-nft` run.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { projectNode } from '../../../harness/lab/netns/index.ts';
import { useTopology } from '../../../harness/lab/netns/testing.ts';
import { service, slice } from '../../model/testing.ts';

const lab = useTopology({ family: 'ipv4', nodes: ['node-a'] });

/** A Service on external IP 192.0.2.10 port 80, created at `created`. */
function claimant(namespace: string, clusterIP: string, created: string, endpoint: string): unknown[] {
  const svc = service('web', { namespace, clusterIPs: [clusterIP], externalIPs: ['192.0.2.10'], ports: [{ name: 'http', port: 80, targetPort: 8080 }] });
  svc.metadata!.creationTimestamp = created as never;
  return [svc, slice('web-1', 'web', [endpoint], { namespace, ports: [{ name: 'http', port: 8080 }] })];
}

describe('two Services on one external IP and port, in the kernel', () => {
  it('the older Service owns the service-ips element, the newer keeps its cluster IP, and the warning names both', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpng-conflict-'));
    const input = join(dir, 'cluster.yaml');
    // "a-new" comes first by name; "z-old" is older and wins.
    const objects = [...claimant('a-new', '10.96.0.21', '2024-06-01T00:00:00Z', '10.244.1.21'), ...claimant('z-old', '10.96.0.22', '2023-01-01T00:00:00Z', '10.244.1.22')];
    writeFileSync(input, objects.map((o) => stringify(o)).join('---\n'));
    const cli = fileURLToPath(new URL('../../cli.ts', import.meta.url));
    const node = lab().node('node-a');
    const kpng = (...args: string[]) => node.run(projectNode(), ['--disable-warning=ExperimentalWarning', cli, ...args], { timeoutMs: 60_000 });
    try {
      const r = await kpng('file', `--input=${input}`, '--once', 'to-local', '--node-name=node-a', 'to-nft', '--ip-families=IPv4', '--healthz-bind-address=', '--metrics-bind-address=');
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/skipped Service a-new\/web: spec\.externalIPs\[0\]: 192\.0\.2\.10:80\/TCP \(its external IP\) is also claimed by Service z-old\/web .*created earlier/);
      const map = (await node.run('nft', ['list', 'map', 'ip', 'kpng', 'service-ips'])).stdout;
      const external = map.match(/192\.0\.2\.10 \. tcp \. 80 : goto (\S+)/g) ?? [];
      expect(external).toHaveLength(1);
      expect(external[0]).toContain('z-old/web');
      expect(map).toMatch(/10\.96\.0\.21 \. tcp \. 80 : goto \S*a-new\/web/);
      expect(map).toMatch(/10\.96\.0\.22 \. tcp \. 80 : goto \S*z-old\/web/);
    } finally {
      await kpng('to-nft', '--cleanup');
    }
  });
});
