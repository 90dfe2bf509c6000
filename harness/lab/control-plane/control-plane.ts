// A real etcd and kube-apiserver on loopback, for the cluster test tier, the lab and
// benchmarks: free ports, generated certificates, a kubeconfig, /readyz awaited, and
// a clean stop that removes the data folder.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { stringify } from 'yaml';
import { k8sBinary } from '../../k8s-binaries.ts';
import { issueClientCert, makeCerts, type ControlPlaneCerts } from './certs.ts';
import { cidrsFor, firstServiceIP, type Family } from './families.ts';
import { freePort } from './ports.ts';
import { harnessErrorText } from '../../config/error-codes.ts';

export interface ControlPlaneOptions {
  family?: Family;
  /** Parent folder for the data folder (default: the OS temp folder). */
  baseDir?: string;
  /** Extra kube-apiserver flags. */
  apiserverArgs?: string[];
  /** Progress lines. */
  log?: (line: string) => void;
  readyTimeoutMs?: number;
  /**
   * More IP addresses for the apiserver's serving certificate, besides loopback and the
   * first Service IPs: addresses that relay to it (the lab's address on its shared network).
   */
  extraSANs?: string[];
}

export interface ControlPlane {
  family: Family;
  dir: string;
  kubeconfig: string;
  /** https://127.0.0.1:PORT */
  server: string;
  serviceCIDRs: string[];
  podCIDRs: string[];
  certs: ControlPlaneCerts;
  etcdURL: string;
  /**
   * Stop kube-apiserver only (etcd keeps the data), to test clients across an outage:
   * gracefully (SIGTERM, the default), or as a crash (SIGKILL: connections just drop).
   */
  stopAPIServer(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Start kube-apiserver again on the same port. */
  startAPIServer(): Promise<void>;
  /** Compact etcd up to its current revision, so watches from older revisions get 410 Gone. */
  compact(): Promise<void>;
  /**
   * Delete an object straight from etcd, behind kube-apiserver's back (an object that
   * vanished while clients could not watch): `resource` as etcd stores it, e.g.
   * "services/specs", "endpointslices". Resolves to the number of keys deleted.
   */
  deleteFromEtcd(resource: string, namespace: string, name: string): Promise<number>;
  /** A kubeconfig for another user (client certificate CN=user, O=each group), without any rights until RBAC grants them. */
  kubeconfigFor(user: string, groups?: string[]): Promise<string>;
  /** Stop everything and remove the data folder. */
  stop(): Promise<void>;
}

async function writeKubeconfig(file: string, server: string, caCert: string, clientCert: string, clientKey: string, user: string): Promise<void> {
  const [ca, cert, key] = await Promise.all([readFile(caCert), readFile(clientCert), readFile(clientKey)]);
  await writeFile(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'lab', cluster: { server, 'certificate-authority-data': ca.toString('base64') } }],
      users: [{ name: user, user: { 'client-certificate-data': cert.toString('base64'), 'client-key-data': key.toString('base64') } }],
      contexts: [{ name: 'lab', context: { cluster: 'lab', user } }],
      'current-context': 'lab',
    }),
    { mode: 0o600 },
  );
}

export class ControlPlaneError extends Error {
  readonly code = 'KPNG_ERR_CONTROL_PLANE';
}

const exited = new WeakSet<ResultPromise>();
function track(p: ResultPromise): ResultPromise {
  p.finally(() => exited.add(p)).catch(() => undefined);
  return p;
}
const running = (p: ResultPromise | undefined): p is ResultPromise => p !== undefined && !exited.has(p);

/** Wait for p to exit, killing it after timeoutMs; resolves once it is gone (its ports are free). */
async function waitExit(p: ResultPromise, timeoutMs: number, log: (line: string) => void): Promise<void> {
  const exit = p.then(
    () => undefined,
    () => undefined,
  );
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
  if ((await Promise.race([exit, late])) === 'late') {
    log(`control plane: pid ${p.pid} still running ${timeoutMs} ms after SIGTERM, killing it`);
    p.kill('SIGKILL');
    await exit;
  }
  clearTimeout(timer);
}

async function httpsGet(url: string, certs: ControlPlaneCerts): Promise<{ status: number; body: string }> {
  const [ca, cert, key] = await Promise.all([readFile(certs.caCert), readFile(certs.adminCert), readFile(certs.adminKey)]);
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, cert, key, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const family = opts.family ?? 'ipv4';
  const log = opts.log ?? (() => {});
  const { serviceCIDRs, podCIDRs } = cidrsFor(family);
  const base = opts.baseDir ?? tmpdir();
  await mkdir(base, { recursive: true });
  const dir = await mkdtemp(path.join(base, 'kpng-cp-'));
  const procs: ResultPromise[] = [];
  let apiserver: ResultPromise | undefined;
  const logs = path.join(dir, 'logs');
  await mkdir(logs);

  const cleanup = async () => {
    // kube-apiserver before etcd: without etcd it hangs in its shutdown until killed.
    for (const p of [apiserver, ...[...procs].reverse()]) {
      if (!running(p)) continue;
      p.kill('SIGTERM');
      await waitExit(p, 5000, log);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const advertise = family === 'ipv6' ? '::1' : '127.0.0.1';
    const sans = ['127.0.0.1', '::1', ...serviceCIDRs.map(firstServiceIP), ...(opts.extraSANs ?? [])];
    log('control plane: certificates');
    const certs = await makeCerts(dir, sans);

    const [etcdClient, etcdPeer, securePort] = await Promise.all([freePort(), freePort(), freePort()]);
    const etcdURL = `http://127.0.0.1:${etcdClient}`;
    log(`control plane: etcd on ${etcdURL}`);
    const etcd = track(execa(
      k8sBinary('etcd'),
      [
        `--data-dir=${path.join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdURL}`,
        `--advertise-client-urls=${etcdURL}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      { stdio: ['ignore', 'ignore', { file: path.join(logs, 'etcd.log') }], reject: false, cleanup: true },
    ));
    procs.push(etcd);

    const apiserverArgs = [
      `--etcd-servers=${etcdURL}`,
      `--bind-address=${advertise}`,
      `--advertise-address=${advertise}`,
      `--secure-port=${securePort}`,
      `--tls-cert-file=${certs.serverCert}`,
      `--tls-private-key-file=${certs.serverKey}`,
      `--client-ca-file=${certs.caCert}`,
      `--service-account-issuer=https://kubernetes.default.svc`,
      `--service-account-key-file=${certs.saPub}`,
      `--service-account-signing-key-file=${certs.saKey}`,
      `--service-cluster-ip-range=${serviceCIDRs.join(',')}`,
      '--authorization-mode=Node,RBAC',
      '--allow-privileged=true',
      '--enable-priority-and-fairness=false',
      '--endpoint-reconciler-type=none',
      '--profiling=false',
      '--v=1',
      ...(opts.apiserverArgs ?? []),
    ];
    const host = advertise.includes(':') ? `[${advertise}]` : advertise;
    const server = `https://${host}:${securePort}`;
    const startAPIServer = async () => {
      log(`control plane: kube-apiserver on ${server}`);
      apiserver = track(
        execa(k8sBinary('kube-apiserver'), apiserverArgs, {
          stdio: ['ignore', 'ignore', { file: path.join(logs, `kube-apiserver.log`), append: true } as never],
          reject: false,
          cleanup: true,
        }),
      );
      const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
      let last = '';
      while (Date.now() < deadline) {
        if (!running(apiserver)) break;
        try {
          // Ready, and the bootstrap objects exist (the `kubernetes` Service comes a moment after /readyz).
          const r = await httpsGet(`${server}/readyz`, certs);
          const svc = r.status === 200 ? await httpsGet(`${server}/api/v1/namespaces/default/services/kubernetes`, certs) : r;
          if (svc.status === 200) return;
          last = `${svc.status} ${svc.body.slice(0, 200)}`;
        } catch (e) {
          last = (e as Error).message;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      const tail = (await readFile(path.join(logs, 'kube-apiserver.log'), 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');
      throw new ControlPlaneError(harnessErrorText('KPNG_ERR_CONTROL_PLANE', `kube-apiserver did not become ready (${last}); its log ends:\n${tail}`));
    };
    await startAPIServer();

    const kubeconfig = path.join(dir, 'kubeconfig');
    await writeKubeconfig(kubeconfig, server, certs.caCert, certs.adminCert, certs.adminKey, 'admin');
    log('control plane: ready');

    return {
      family,
      dir,
      kubeconfig,
      server,
      serviceCIDRs,
      podCIDRs,
      certs,
      etcdURL,
      async stopAPIServer(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') {
        if (!running(apiserver)) return;
        apiserver.kill(signal);
        await waitExit(apiserver, 10_000, log);
      },
      startAPIServer,
      async compact() {
        const status = await fetch(`${etcdURL}/v3/maintenance/status`, { method: 'POST', body: '{}' }).then((r) => r.json() as Promise<{ header: { revision: string } }>);
        const res = await fetch(`${etcdURL}/v3/kv/compaction`, { method: 'POST', body: JSON.stringify({ revision: status.header.revision, physical: true }) });
        if (!res.ok) throw new ControlPlaneError(harnessErrorText('KPNG_ERR_CONTROL_PLANE', `etcd compaction failed: ${res.status} ${await res.text()}`));
      },
      async deleteFromEtcd(resource: string, namespace: string, name: string) {
        const key = Buffer.from(`/registry/${resource}/${namespace}/${name}`).toString('base64');
        const res = await fetch(`${etcdURL}/v3/kv/deleterange`, { method: 'POST', body: JSON.stringify({ key }) });
        if (!res.ok) throw new ControlPlaneError(harnessErrorText('KPNG_ERR_CONTROL_PLANE', `etcd delete failed: ${res.status} ${await res.text()}`));
        return Number(((await res.json()) as { deleted?: string }).deleted ?? 0);
      },
      async kubeconfigFor(user: string, groups: string[] = []) {
        const safe = user.replace(/[^a-zA-Z0-9.-]/g, '_');
        const { cert, key } = await issueClientCert(dir, `user-${safe}`, user, groups);
        const file = path.join(dir, `kubeconfig-${safe}`);
        await writeKubeconfig(file, server, certs.caCert, cert, key, user);
        return file;
      },
      stop: cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
