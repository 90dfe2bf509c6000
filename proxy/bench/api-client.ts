// What the API-driven benchmarks share: a tiny JSON client for a lab control plane (admin
// certificate, keep-alive) and a bounded-width parallel loop for writing many objects.
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import type { ControlPlane } from '../../harness/lab/control-plane/index.ts';

export type ApiCall = (method: string, path: string, body?: unknown, contentType?: string) => Promise<unknown>;

/** Answers that say the server was too busy (a loaded machine; also a 500 whose storage timed out): the call is made again, up to `attempts` times in all. */
const busy = new Set([429, 503, 504]);
const attempts = 5;

export async function apiClient(cp: ControlPlane): Promise<ApiCall> {
  const [ca, cert, key] = await Promise.all([readFile(cp.certs.caCert), readFile(cp.certs.adminCert), readFile(cp.certs.adminKey)]);
  const agent = new Agent({ ca, cert, key, keepAlive: true, maxSockets: 64 });
  const once = (method: string, path: string, data: string | undefined, contentType: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(`${cp.server}${path}`, { method, agent, headers: { 'content-type': contentType, accept: 'application/json' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(data);
    });
  return async (method, path, body, contentType = 'application/json') => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 1; ; attempt++) {
      const { status, text } = await once(method, path, data, contentType);
      if (status < 300) return JSON.parse(text) as unknown;
      // A create that timed out may have been stored: made again, it finds the object there.
      if (status === 409 && method === 'POST' && attempt > 1) return JSON.parse(text) as unknown;
      const busyNow = busy.has(status) || (status === 500 && text.includes('timed out'));
      if (!busyNow || attempt === attempts) throw new Error(`${method} ${path}: ${status} ${text.slice(0, 300)}`);
      await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
    }
  };
}

/** Runs `fn` over `items`, at most `width` at a time. */
export async function inParallel<T>(items: readonly T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** The q-quantile (nearest rank) of xs; NaN when empty. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
