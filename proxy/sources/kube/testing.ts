// Helpers for cluster-tier tests of the proxy against a real kube-apiserver: writing
// objects the way controllers do, running `kpng` as users run it, and reading what a
// to-json sink wrote.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject, type V1NodeStatus } from '@kubernetes/client-node';
import { execa, type ResultPromise } from 'execa';
import { vi } from 'vitest';

/** Writes objects to a real API server (server-side apply: create or replace), deletes them. */
export class ObjectWriter {
  readonly api: KubernetesObjectApi;
  readonly core: CoreV1Api;

  constructor(kubeconfig: string) {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    this.api = KubernetesObjectApi.makeApiClient(kc);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /**
   * Create or update `obj` as written (fields left out are removed). A Node's status goes
   * through its status subresource, as the kubelet writes it.
   */
  async apply<T extends KubernetesObject>(obj: T): Promise<T> {
    const { status, ...rest } = obj as T & { status?: unknown };
    const stored = await this.api.patch(obj.kind === 'Node' ? (rest as T) : obj, undefined, undefined, 'kpng-test', true, PatchStrategy.ServerSideApply);
    if (obj.kind !== 'Node' || status === undefined) return stored;
    const current = await this.core.readNode({ name: obj.metadata!.name! });
    return (await this.core.replaceNodeStatus({ name: obj.metadata!.name!, body: { ...current, status: status as V1NodeStatus } })) as unknown as T;
  }

  async applyAll(objects: KubernetesObject[]): Promise<void> {
    for (const o of objects) await this.apply(o);
  }

  /** Delete `obj`; an object already gone is fine. */
  async remove(obj: KubernetesObject): Promise<void> {
    try {
      await this.api.delete(obj, undefined, undefined, 0);
    } catch (e) {
      if ((e as { code?: number }).code !== 404) throw e;
    }
  }

  namespace(name: string): Promise<KubernetesObject> {
    return this.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }
}

/** A Service written for the API: cluster IPs left to the server unless given. */
export function apiService<T extends { spec?: { clusterIP?: string; clusterIPs?: string[] } }>(svc: T, keepIPs = false): T {
  if (keepIPs || !svc.spec) return svc;
  const { clusterIP: _ip, clusterIPs: _ips, ...spec } = svc.spec;
  return { ...svc, spec };
}

const cli = fileURLToPath(new URL('../../cli.ts', import.meta.url));

/** A `kpng` process as users start it, with its standard error collected. */
export class KpngProcess {
  readonly proc: ResultPromise;
  private err = '';
  private out = '';
  private exitCode: number | undefined;
  private done = false;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.proc = execa(process.execPath, [cli, ...args], { reject: false, env: { KPNG_LOG_LEVEL: 'info', ...env }, stdin: 'ignore', buffer: false });
    this.proc.stderr?.setEncoding('utf8').on('data', (c: string) => (this.err += c));
    this.proc.stdout?.setEncoding('utf8').on('data', (c: string) => (this.out += c));
    void this.proc.then((r) => {
      this.done = true;
      this.exitCode = typeof r.exitCode === 'number' ? r.exitCode : undefined;
    });
  }

  get stderr(): string {
    return this.err;
  }

  get stdout(): string {
    return this.out;
  }

  /** Still running (no crash, no exit). */
  get running(): boolean {
    return !this.done;
  }

  get code(): number | undefined {
    return this.exitCode;
  }

  /** Stop it as a user would (SIGTERM) and wait; resolves to its exit code. */
  async stop(): Promise<number | undefined> {
    if (!this.done) this.proc.kill('SIGTERM');
    await this.proc;
    return this.exitCode;
  }

  /** Resolves once standard error has a line matching `re`. */
  async waitForLog(re: RegExp, timeoutMs = 20_000): Promise<string> {
    return vi.waitFor(
      () => {
        const line = this.err.split('\n').find((l) => re.test(l));
        if (!line) throw new Error(`no log line matching ${re} yet; stderr so far:\n${this.err.slice(-3000)}`);
        return line;
      },
      { timeout: timeoutMs, interval: 50 },
    );
  }
}

/** What a to-json sink writes. */
export interface LocalDoc {
  node: { name: string; known: boolean; zone?: string };
  servicePorts: Array<{
    key: string;
    namespace: string;
    name: string;
    portName: string;
    protocol: string;
    port: number;
    nodePort: number;
    clusterIPs: string[];
    internalEndpoints: Array<{ address: string; port: number; ready: boolean; serving: boolean; terminating: boolean; local: boolean }>;
    externalEndpoints: Array<{ address: string; port: number }>;
    clusterEndpoints: Array<{ address: string; port: number }>;
    [k: string]: unknown;
  }>;
}

export async function readDoc(file: string): Promise<LocalDoc | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LocalDoc;
  } catch {
    return undefined;
  }
}

/** The service ports of one namespace, by key. */
export function portsIn(doc: LocalDoc | undefined, namespace: string): Map<string, LocalDoc['servicePorts'][number]> {
  return new Map((doc?.servicePorts ?? []).filter((sp) => sp.namespace === namespace).map((sp) => [sp.key, sp]));
}

/** "address:port" of each internal endpoint. */
export const internal = (sp: LocalDoc['servicePorts'][number] | undefined): string[] => (sp?.internalEndpoints ?? []).map((e) => `${e.address}:${e.port}`);

/**
 * Wait until what to-json wrote to `file` satisfies `check` (which throws, with vitest's
 * expect, while it does not). The time limit is a guard against hanging, not a figure:
 * bench:latency measures how fast the state follows.
 */
export function waitForDoc(file: string, check: (doc: LocalDoc) => void, timeoutMs = 20_000): Promise<LocalDoc> {
  return vi.waitFor(
    async () => {
      const doc = await readDoc(file);
      if (!doc) throw new Error(`${file}: nothing written yet`);
      check(doc);
      return doc;
    },
    { timeout: timeoutMs, interval: 20 },
  );
}
