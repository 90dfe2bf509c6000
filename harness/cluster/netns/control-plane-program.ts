// The netns cluster's control plane, run inside its namespace by the project's node:
//   node control-plane-program.ts '<ControlPlaneProgramConfig as JSON>'
// etcd and kube-apiserver (harness/lab/control-plane, listening on every address of the
// namespace), then kube-controller-manager and kube-scheduler. Serves a unix socket
// joined to the apiserver, the host's way in (a path reaches across network namespaces).
// Prints one JSON line, ControlPlaneProgramReady or {"ready":false,"error":...}, then
// lives until its standard input ends (its parent is gone) or SIGTERM/SIGINT, and stops
// everything it started.
import { mkdir, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { k8sBinDir } from '../../k8s-binaries.ts';
import { startControlPlane, type ControlPlane } from '../../lab/control-plane/index.ts';
import { joinSockets } from '../../lab/cluster/relay-join.ts';
import type { Family } from '../../lab/control-plane/families.ts';

export interface ControlPlaneProgramConfig {
  /** Folder for the control plane's data folder and logs. */
  dataDir: string;
  /** The unix socket to serve (joined to the apiserver). */
  apiSocket: string;
  family: Family;
  /** The namespace's address on the switch in the primary family: what the nodes and the `kubernetes` Service use. */
  advertise: string;
  /** Every address of the namespace on the switch (the serving certificate names them). */
  addresses: string[];
  /** The plan's flags (configs.ts controlPlaneFlags): bind and advertised addresses, Service and pod CIDRs per family. */
  apiserverArgs: string[];
  controllerManagerArgs: string[];
  /** The apiserver's client certificate for kubelets (exec, logs, port-forward). */
  kubeletClientCert: string;
  kubeletClientKey: string;
}

export interface ControlPlaneProgramReady {
  ready: true;
  pid: number;
  /** https://<advertise>:<port> */
  server: string;
  /** The control plane's data folder: ca.crt/ca.key (sign node certificates here), the admin kubeconfig. */
  dir: string;
  caCert: string;
  adminCert: string;
  adminKey: string;
  logs: string;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ControlPlaneProgramConfig;
const children: ResultPromise[] = [];
let cp: ControlPlane | undefined;
let server: net.Server | undefined;
let stopping: Promise<void> | undefined;

function stop(): Promise<void> {
  stopping ??= (async () => {
    server?.close();
    for (const child of children.reverse()) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await child.catch(() => undefined);
      clearTimeout(timer);
    }
    await cp?.stop();
  })();
  return stopping;
}

async function start(): Promise<ControlPlaneProgramReady> {
  await mkdir(config.dataDir, { recursive: true });
  cp = await startControlPlane({
    family: config.family,
    baseDir: config.dataDir,
    extraSANs: config.addresses,
    log: (line) => process.stderr.write(`${line}\n`),
    apiserverArgs: [
      // Later flags win: every address of the namespace, and the `kubernetes` Service's endpoint kept by the apiserver.
      ...config.apiserverArgs,
      '--endpoint-reconciler-type=lease',
      '--enable-admission-plugins=NodeRestriction',
      `--kubelet-client-certificate=${config.kubeletClientCert}`,
      `--kubelet-client-key=${config.kubeletClientKey}`,
      '--kubelet-preferred-address-types=InternalIP',
    ],
  });
  const logs = path.join(cp.dir, 'logs');
  const port = new URL(cp.server).port;
  const spawn = (name: string, args: string[]) => {
    const child = execa(path.join(k8sBinDir(), name), args, { stdio: ['ignore', 'ignore', { file: path.join(logs, `${name}.log`) }] as never, reject: false, cleanup: true });
    children.push(child);
  };
  spawn('kube-controller-manager', [
    `--kubeconfig=${cp.kubeconfig}`,
    `--authentication-kubeconfig=${cp.kubeconfig}`,
    `--authorization-kubeconfig=${cp.kubeconfig}`,
    '--leader-elect=false',
    `--root-ca-file=${cp.certs.caCert}`,
    `--service-account-private-key-file=${cp.certs.saKey}`,
    ...config.controllerManagerArgs,
    // Node objects come with their podCIDR.
    '--allocate-node-cidrs=false',
    '--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route',
    '--bind-address=127.0.0.1',
    '--secure-port=10257',
    '--v=1',
  ]);
  spawn('kube-scheduler', [
    `--kubeconfig=${cp.kubeconfig}`,
    `--authentication-kubeconfig=${cp.kubeconfig}`,
    `--authorization-kubeconfig=${cp.kubeconfig}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    '--secure-port=10259',
    '--v=1',
  ]);
  await rm(config.apiSocket, { force: true });
  server = net.createServer((client) => joinSockets(client, net.connect({ host: '127.0.0.1', port: Number(port) })));
  await new Promise<void>((resolve, reject) => {
    server!.once('error', reject);
    server!.listen(config.apiSocket, () => resolve());
  });
  return {
    ready: true,
    pid: process.pid,
    server: `https://${config.advertise.includes(':') ? `[${config.advertise}]` : config.advertise}:${port}`,
    dir: cp.dir,
    caCert: cp.certs.caCert,
    adminCert: cp.certs.adminCert,
    adminKey: cp.certs.adminKey,
    logs,
  };
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void stop().then(() => process.exit(0)));
process.stdin.on('end', () => void stop().then(() => process.exit(0)));
process.stdin.on('error', () => void stop().then(() => process.exit(0)));
process.stdin.resume();
try {
  process.stdout.write(`${JSON.stringify(await start())}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ ready: false, error: String((error as Error).message ?? error) })}\n`);
  await stop();
  process.exit(1);
}
