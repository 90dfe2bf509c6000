// The two calls a reflector needs, over node:https with the kubeconfig's credentials: a
// list (plain JSON objects, as watch events carry them) and a watch (one JSON event a line).
import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import { createInterface } from 'node:readline';
import { errorText } from '../../errors.ts';
import { http, https } from '../../runtime/http.ts';
import type { ApiConnection } from './kubeconfig.ts';

export { KubeConfigError, loadKubeConfig, type ApiConnection } from './kubeconfig.ts';

export interface ListResult {
  items: unknown[];
  resourceVersion: string;
}

/** A list response's body: its items (plain objects, without their kind) and resource version. */
export function parseList(body: string): ListResult {
  const list = JSON.parse(body) as { items?: unknown[]; metadata?: { resourceVersion?: string } };
  return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '' };
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

export class KubeClient {
  private readonly api: ApiConnection;
  /** A watch silent this long is aborted: the watchdog for half-open connections. */
  private readonly watchInactivityMs: number;

  constructor(api: ApiConnection, watchInactivityMs: number) {
    this.api = api;
    this.watchInactivityMs = watchInactivityMs;
  }

  private async send(path: string, query: Record<string, string>, signal: AbortSignal, extra: RequestOptions = {}): Promise<{ url: URL; req: ClientRequest; res: Promise<IncomingMessage> }> {
    const url = new URL(path, this.api.server);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const opts = await this.api.requestOptions();
    const send = url.protocol === 'https:' ? https.request : http.request;
    let req!: ClientRequest;
    const res = new Promise<IncomingMessage>((resolve, reject) => {
      req = send(url, { ...opts, ...extra, method: 'GET', headers: { ...(opts.headers as Record<string, string>), Accept: 'application/json' }, signal }, (response) => {
        // A connection cut mid-response errors the response too: the callers' handlers see it, and none goes uncaught.
        response.on('error', () => undefined);
        resolve(response);
      });
      req.on('error', reject);
      req.end();
    });
    return { url, req, res };
  }

  async list(path: string, query: Record<string, string>, signal: AbortSignal): Promise<ListResult> {
    const { url, req, res } = await this.send(path, query, signal, { timeout: 60_000 });
    req.on('timeout', () => req.destroy(new KubeAPIError(0, `GET ${url.pathname}: timed out`)));
    const response = await res;
    const body = await new Promise<string>((resolve, reject) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (c: string) => (text += c));
      response.on('end', () => {
        if (response.statusCode === 200) resolve(text);
        else reject(new KubeAPIError(response.statusCode ?? 0, `GET ${url.pathname}: ${response.statusCode} ${text.slice(0, 300)}`));
      });
      response.on('error', reject);
      req.on('error', reject);
    });
    return parseList(body);
  }

  /** Resolves when the watch ends (server close, error, inactivity or abort); rejects on an error. */
  async watch(path: string, query: Record<string, string>, onEvent: (e: WatchEvent) => void, signal: AbortSignal): Promise<void> {
    const ctrl = new AbortController();
    const abort = () => ctrl.abort();
    signal.addEventListener('abort', abort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const idle = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        ctrl.abort();
      }, this.watchInactivityMs);
      timer.unref();
    };
    try {
      idle(); // also bounds the wait for the response's head
      const { url, req, res } = await this.send(path, { ...query, watch: 'true' }, ctrl.signal);
      const response = await res;
      if (response.statusCode !== 200) {
        response.resume();
        throw new KubeAPIError(response.statusCode ?? 0, `watch ${url.pathname}: ${response.statusCode} ${response.statusMessage ?? ''}`);
      }
      idle();
      await new Promise<void>((resolve, reject) => {
        response.on('data', idle);
        const lines = createInterface({ input: response, crlfDelay: Infinity });
        lines.on('line', (line) => {
          let e: WatchEvent;
          try {
            e = JSON.parse(line) as WatchEvent;
          } catch {
            return; // not an event
          }
          try {
            onEvent(e);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
        lines.on('close', resolve);
        lines.on('error', reject); // readline passes the response's errors on
        response.on('close', resolve); // also cut mid-stream: resume from the last resource version
        response.on('error', reject);
        req.on('error', reject);
      });
      if (timedOut) throw new Error('stalled');
    } catch (err) {
      // An abort (ours, the inactivity watchdog's) ends the watch; anything else is an error.
      if (signal.aborted) return;
      if (timedOut) throw new KubeAPIError(0, `watch ${path}: silent for ${this.watchInactivityMs} ms (stalled), restarting`);
      throw err;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
      ctrl.abort();
    }
  }
}
