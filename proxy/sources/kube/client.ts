// The two calls a reflector needs, on top of @kubernetes/client-node's config and Watch:
// a raw list (plain JSON objects, as watch events carry them) and a watch.
import { request } from 'node:https';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { errorText } from '../../errors.ts';

export interface ListResult {
  items: unknown[];
  resourceVersion: string;
}

export class KubeAPIError extends Error {
  readonly code = 'KPNG_ERR_KUBE_API';
  readonly status: number;
  constructor(status: number, detail: string) {
    super(errorText('KPNG_ERR_KUBE_API', detail));
    this.status = status;
  }
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: Record<string, unknown>;
}

/** Where the kubeconfig comes from: a file, else $KUBECONFIG, else the in-cluster service account. */
export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  const path = file || process.env.KUBECONFIG;
  if (!path) {
    kc.loadFromCluster();
    return kc;
  }
  // Every problem names the file (and where its name came from): a bare EISDIR or YAML error says neither.
  const bad = (why: string) => new KubeConfigError(`${path} (${file ? '--kubeconfig' : '$KUBECONFIG'}): ${why}`);
  try {
    kc.loadFromFile(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EISDIR') throw bad('is a directory (accepted: a kubeconfig file)');
    if (err.code === 'ENOENT') throw bad('no such file');
    throw bad(`cannot be read as a kubeconfig: ${err.message.split('\n')[0]}`);
  }
  if (!kc.getCurrentCluster()) throw bad(`has no current cluster (current-context ${JSON.stringify(kc.getCurrentContext() ?? '')}; accepted: a kubeconfig whose current-context names a cluster)`);
  return kc;
}

export class KubeConfigError extends Error {
  readonly code = 'KPNG_ERR_KUBECONFIG';
  constructor(message: string) {
    super(errorText('KPNG_ERR_KUBECONFIG', message));
  }
}

export class KubeClient {
  readonly kc: KubeConfig;
  private readonly watcher: Watch;

  constructor(kc: KubeConfig, watchInactivityMs: number) {
    this.kc = kc;
    this.watcher = new Watch(kc);
    // client-node aborts a watch that is silent this long: our watchdog for half-open connections.
    (this.watcher as unknown as { requestTimeoutMs: number }).requestTimeoutMs = watchInactivityMs;
  }

  private server(): URL {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new KubeAPIError(0, 'the kubeconfig has no current cluster');
    return new URL(cluster.server);
  }

  async list(path: string, query: Record<string, string>, signal: AbortSignal): Promise<ListResult> {
    const url = new URL(path, this.server());
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const opts: RequestOptions & Record<string, unknown> = { method: 'GET', headers: { Accept: 'application/json' }, signal, timeout: 60_000 };
    await this.kc.applyToHTTPSOptions(opts as never);
    const send = url.protocol === 'https:' ? request : httpRequest;
    const body = await new Promise<string>((resolve, reject) => {
      const req = send(url, opts, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          if (res.statusCode === 200) resolve(text);
          else reject(new KubeAPIError(res.statusCode ?? 0, `GET ${url.pathname}: ${res.statusCode} ${text.slice(0, 300)}`));
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new KubeAPIError(0, `GET ${url.pathname}: timed out`)));
      req.on('error', reject);
      req.end();
    });
    const list = JSON.parse(body) as { items?: unknown[]; metadata?: { resourceVersion?: string } };
    return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '' };
  }

  /** Resolves when the watch ends (server close, error, inactivity or abort); rejects on an error. */
  watch(path: string, query: Record<string, string>, onEvent: (e: WatchEvent) => void, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      let controller: AbortController | undefined;
      const abort = () => controller?.abort();
      signal.addEventListener('abort', abort, { once: true });
      const finish = (err: unknown) => {
        signal.removeEventListener('abort', abort);
        if (err && !signal.aborted) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve();
      };
      this.watcher
        .watch(path, query, (type, object) => onEvent({ type: type as WatchEvent['type'], object: object as Record<string, unknown> }), finish)
        .then((c) => {
          controller = c;
          if (signal.aborted) c.abort();
        }, finish);
    });
  }
}
