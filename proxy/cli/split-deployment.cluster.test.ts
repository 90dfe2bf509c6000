// The two deployment models against one real kube-apiserver, as users run them:
//   single: kpng kube ... to-local --node-name=n1 <backend>
//   split:  kpng kube ... to-api --listen=unix://S   +   kpng local --api=unix://S --node-name=n1 <backend>
// give the same node-local state (to-json) and the same rendered rules (to-iptables
// --dry-run), at the first sync and after each change.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { useControlPlane } from '../../harness/lab/control-plane/testing.ts';
import { node, service, slice } from '../model/testing.ts';
import { apiService, KpngProcess, ObjectWriter, portsIn, readDoc, waitForDoc, type LocalDoc } from '../sources/kube/testing.ts';

const cp = useControlPlane({ family: 'dual' });
const ns = 'split';
let dir: string;
let api: ObjectWriter;
const procs: KpngProcess[] = [];
const start = (args: string[]) => {
  const p = new KpngProcess(args, { KPNG_LOG_LEVEL: 'warn' });
  procs.push(p);
  return p;
};
const quiet = ['--healthz-bind-address=', '--metrics-bind-address='];

function dualStack<T extends { spec?: object }>(svc: T): T {
  return { ...svc, spec: { ...svc.spec, ipFamilyPolicy: 'RequireDualStack' } };
}

/** Objects of many shapes: dual-stack, UDP, NodePort, affinity, local policies, endpoints on this and other nodes, not ready and terminating ones. */
function objects(): KubernetesObject[] {
  return [
    node('n1', { zone: 'zone-a', addresses: ['10.99.0.1', 'fd00:99::1'] }),
    node('n2', { zone: 'zone-b', addresses: ['10.99.0.2', 'fd00:99::2'] }),
    dualStack(apiService(service('web', { namespace: ns, ports: [{ name: 'http', port: 80, targetPort: 8080 }], affinity: 600 }))),
    slice('web-v4', 'web', [{ ip: '10.244.1.2', node: 'n1', zone: 'zone-a', pod: 'web-0' }, { ip: '10.244.2.2', node: 'n2', zone: 'zone-b' }, { ip: '10.244.2.3', node: 'n2', ready: false, serving: true, terminating: true }], { namespace: ns, ports: [{ name: 'http', port: 8080 }] }),
    slice('web-v6', 'web', [{ ip: 'fd00:244:1::2', node: 'n1' }, { ip: 'fd00:244:2::2', node: 'n2' }], { namespace: ns, addressType: 'IPv6', ports: [{ name: 'http', port: 8080 }] }),
    apiService(service('dns', { namespace: ns, ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }], itp: 'Local' })),
    slice('dns-1', 'dns', [{ ip: '10.244.1.53', node: 'n1' }, { ip: '10.244.2.53', node: 'n2' }], { namespace: ns, ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }] }),
    apiService(service('np', { namespace: ns, type: 'NodePort', ports: [{ port: 8443, targetPort: 443 }] })),
    slice('np-1', 'np', [{ ip: '10.244.2.9', node: 'n2' }], { namespace: ns, ports: [{ port: 443 }] }),
    apiService(service('ext', { namespace: ns, externalIPs: ['192.0.2.10'], etp: 'Local', ports: [{ port: 80, targetPort: 80 }] })),
    slice('ext-1', 'ext', [{ ip: '10.244.1.80', node: 'n1' }, { ip: '10.244.2.80', node: 'n2' }], { namespace: ns, ports: [{ port: 80 }] }),
    apiService(service('empty', { namespace: ns })),
  ];
}

const dryRunHeader = /^# kpng to-iptables --dry-run: .*$/gm;
/** The dry-run output split into syncs: one block per family and sync. */
const blocks = (out: string) => out.split(/(?=^# kpng to-iptables --dry-run: )/m).filter((b) => b.startsWith('# kpng'));

let singleJSON: string;
let splitJSON: string;
let singleRules: KpngProcess;
let splitRules: KpngProcess;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kpng-split-'));
  api = new ObjectWriter(cp().kubeconfig);
  await api.namespace(ns);
  await api.applyAll(objects());
  const k = `--kubeconfig=${cp().kubeconfig}`;
  const sock = `unix://${path.join(dir, 'api.sock')}`;
  singleJSON = path.join(dir, 'single.json');
  splitJSON = path.join(dir, 'split.json');
  start(['kube', k, 'to-local', '--node-name=n1', 'to-json', `--output=${singleJSON}`]);
  singleRules = start(['kube', k, 'to-local', '--node-name=n1', 'to-iptables', '--dry-run', ...quiet]);
  const server = start(['kube', k, 'to-api', `--listen=${sock}`]);
  await vi.waitFor(async () => expect(await readFile(path.join(dir, 'api.sock')).catch((e: NodeJS.ErrnoException) => e.code)).not.toBe('ENOENT'), { timeout: 30_000 });
  expect(server.running).toBe(true);
  start(['local', `--api=${sock}`, '--node-name=n1', 'to-json', `--output=${splitJSON}`]);
  splitRules = start(['local', `--api=${sock}`, '--node-name=n1', 'to-iptables', '--dry-run', ...quiet]);
}, 90_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await rm(dir, { recursive: true, force: true });
});

/** Wait until both documents show `check`, then expect them to be the same. */
async function sameState(check: (doc: LocalDoc) => void): Promise<LocalDoc> {
  await waitForDoc(singleJSON, check, 30_000);
  await waitForDoc(splitJSON, check, 30_000);
  return vi.waitFor(
    async () => {
      const [a, b] = await Promise.all([readDoc(singleJSON), readDoc(splitJSON)]);
      expect(b).toEqual(a);
      return a!;
    },
    { timeout: 10_000 },
  );
}

/** Wait until both dry runs printed `syncs` syncs (both families each), then expect the same rules. */
async function sameRules(syncs: number): Promise<string[]> {
  const want = syncs * 2;
  await vi.waitFor(() => expect(singleRules.stdout.match(dryRunHeader)?.length ?? 0).toBe(want), { timeout: 30_000 });
  await vi.waitFor(() => expect(splitRules.stdout.match(dryRunHeader)?.length ?? 0).toBe(want), { timeout: 30_000 });
  const a = blocks(singleRules.stdout);
  expect(blocks(splitRules.stdout)).toEqual(a);
  return a.slice(-2);
}

describe('split and single deployment', () => {
  it('give the same node-local state and the same rules at the first sync', async () => {
    const doc = await sameState((d) => expect([...portsIn(d, ns).keys()].sort()).toEqual(['split/dns:dns', 'split/dns:dns-tcp', 'split/empty', 'split/ext', 'split/np', 'split/web:http']));
    expect(doc.node).toMatchObject({ name: 'n1', known: true, zone: 'zone-a' });
    // Only n1's DNS endpoint: internalTrafficPolicy=Local, seen from n1.
    expect(portsIn(doc, ns).get('split/dns:dns')?.internalEndpoints.map((e) => e.address)).toEqual(['10.244.1.53']);
    const [v4, v6] = await sameRules(1);
    expect(v4).toMatch(/^# kpng to-iptables --dry-run: IPv4, full sync/);
    expect(v6).toMatch(/^# kpng to-iptables --dry-run: IPv6, full sync/);
    expect(v4).toContain('192.0.2.10');
    expect(v6).toContain('fd00:244:1::2');
    expect(procs.every((p) => p.running)).toBe(true);
  });

  it('stay the same through endpoint moves, Service changes and deletions', async () => {
    let syncs = 1;
    const step = async (write: () => Promise<unknown>, check: (doc: LocalDoc) => void) => {
      await write();
      await sameState(check);
      syncs++;
      return sameRules(syncs);
    };
    const ports = (d: LocalDoc) => portsIn(d, ns);

    const [moved] = await step(
      () => api.apply(slice('web-v4', 'web', [{ ip: '10.244.1.4', node: 'n1' }, { ip: '10.244.2.2', node: 'n2' }], { namespace: ns, ports: [{ name: 'http', port: 8080 }] })),
      (d) => expect(ports(d).get('split/web:http')?.internalEndpoints.map((e) => e.address)).toEqual(['10.244.1.4', '10.244.2.2', 'fd00:244:1::2', 'fd00:244:2::2']),
    );
    expect(moved).toMatch(/IPv4, partial sync/);
    expect(moved).toContain('10.244.1.4');

    await step(
      () => api.apply(apiService(service('np', { namespace: ns, type: 'NodePort', ports: [{ port: 8443, targetPort: 443 }], itp: 'Local' }))),
      (d) => expect(ports(d).get('split/np')?.internalPolicyLocal).toBe(true),
    );

    await step(
      () => api.remove(service('dns', { namespace: ns })),
      (d) => expect([...ports(d).keys()].filter((k) => k.startsWith('split/dns'))).toEqual([]),
    );

    await step(
      () => api.remove(slice('ext-1', 'ext', [], { namespace: ns })),
      (d) => expect(ports(d).get('split/ext')?.externalEndpoints).toEqual([]),
    );
    expect(procs.every((p) => p.running)).toBe(true);
  });
});
