// The loopback control plane itself: a real etcd and kube-apiserver per IP family,
// reached through the kubeconfig it writes; restarts, compaction, a second user, and a
// stop that frees its ports and removes its data folder.
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { families, firstServiceIP, startControlPlane, type ControlPlane } from './index.ts';
import { useControlPlane } from './testing.ts';

function api(kubeconfig: string): CoreV1Api {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return kc.makeApiClient(CoreV1Api);
}

const portOf = (url: string) => Number(new URL(url).port);

/** Whether a TCP port on loopback can be bound (nobody listens on it). */
function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

async function readyz(cp: ControlPlane): Promise<number | string> {
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfig);
  const opts: Record<string, unknown> = {};
  await kc.applyToHTTPSOptions(opts as never);
  const { request } = await import('node:https');
  return new Promise((resolve) => {
    const req = request(`${cp.server}/readyz`, { ...opts, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
    req.end();
  });
}

/** Whether ip is inside cidr (enough for the lab's /16 and /112 service CIDRs). */
function inCIDR(ip: string, cidr: string): boolean {
  const base = cidr.split('/')[0]!;
  return base.includes(':') ? ip.includes(':') && ip.startsWith(base.replace(/::$/, ':')) : ip.startsWith(`${base.split('.').slice(0, 2).join('.')}.`);
}

describe.each(families)('a %s control plane', (family) => {
  const cp = useControlPlane({ family });

  it('answers through its kubeconfig; the kubernetes Service has the first address of the primary service CIDR', async () => {
    const svc = await api(cp().kubeconfig).readNamespacedService({ name: 'kubernetes', namespace: 'default' });
    expect(cp().serviceCIDRs).toHaveLength(family === 'dual' ? 2 : 1);
    expect(svc.spec?.clusterIPs).toEqual([firstServiceIP(cp().serviceCIDRs[0]!)]);
    expect(svc.spec?.clusterIPs?.[0]).toBe(family === 'ipv6' ? 'fd00:10:96::1' : '10.96.0.1');
  });

  it('allocates cluster IPs of its families from its service CIDRs', async () => {
    const created = await api(cp().kubeconfig).createNamespacedService({
      namespace: 'default',
      body: { metadata: { name: 'family-check' }, spec: { ipFamilyPolicy: family === 'dual' ? 'RequireDualStack' : 'SingleStack', ports: [{ port: 80 }] } },
    });
    const ips = created.spec?.clusterIPs ?? [];
    expect(ips).toHaveLength(cp().serviceCIDRs.length);
    ips.forEach((ip, i) => expect(inCIDR(ip, cp().serviceCIDRs[i]!), `${ip} in ${cp().serviceCIDRs[i]}`).toBe(true));
  });
});

describe('control plane lifecycle', () => {
  it('restarts kube-apiserver on the same port with its data, compacts etcd, serves other users, and stops without leftovers', async () => {
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    const a = await startControlPlane({ log });
    let b: ControlPlane | undefined;
    try {
      // A second one side by side gets ports of its own.
      b = await startControlPlane({ log });
      const ports = [portOf(a.server), portOf(a.etcdURL), portOf(b.server), portOf(b.etcdURL)];
      expect(new Set(ports).size).toBe(4);
      await b.stop();
      expect(existsSync(b.dir)).toBe(false);
      expect(await bindable(portOf(b.server), '127.0.0.1')).toBe(true);
      expect(await bindable(portOf(b.etcdURL), '127.0.0.1')).toBe(true);
      b = undefined;

      const core = api(a.kubeconfig);
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'survives' }, data: { k: 'v' } } });
      await a.stopAPIServer();
      expect(await readyz(a)).toBe('ECONNREFUSED');
      await a.startAPIServer();
      expect(await readyz(a)).toBe(200);
      expect((await core.readNamespacedConfigMap({ name: 'survives', namespace: 'default' })).data).toEqual({ k: 'v' });

      // Compaction: etcd no longer serves revisions older than the current one.
      const rev = async () => ((await (await fetch(`${a.etcdURL}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: 'AA==' }) })).json()) as { header: { revision: string } }).header.revision;
      const before = await rev();
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'later' } } });
      await a.compact();
      const old = await fetch(`${a.etcdURL}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: 'AA==', revision: before }) });
      expect(`${old.status} ${await old.text()}`).toMatch(/compacted/);

      // Straight from etcd: kube-apiserver no longer has it either.
      expect(await a.deleteFromEtcd('configmaps', 'default', 'survives')).toBe(1);
      await expect(core.readNamespacedConfigMap({ name: 'survives', namespace: 'default' })).rejects.toMatchObject({ code: 404 });

      // Another user is authenticated, and has no rights until RBAC gives them some.
      const alice = api(await a.kubeconfigFor('alice', ['team']));
      await expect(alice.listNamespacedConfigMap({ namespace: 'default' })).rejects.toMatchObject({ code: 403 });
    } finally {
      await b?.stop();
      await a.stop();
    }
    expect(existsSync(a.dir)).toBe(false);
    // Every process stopped on SIGTERM.
    expect(lines.filter((l) => l.includes('killing'))).toEqual([]);
    expect(await bindable(portOf(a.server), '127.0.0.1')).toBe(true);
    expect(await bindable(portOf(a.etcdURL), '127.0.0.1')).toBe(true);
  });
});
