// What the API-driven benchmarks share: a tiny JSON client for a lab control plane (admin
// certificate, keep-alive) and a bounded-width parallel loop for writing many objects.
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import type { ControlPlane } from '../../harness/lab/control-plane/index.ts';

export type ApiCall = (method: string, path: string, body?: unknown, contentType?: string) => Promise<unknown>;

export async function apiClient(cp: ControlPlane): Promise<ApiCall> {
  const [ca, cert, key] = await Promise.all([readFile(cp.certs.caCert), readFile(cp.certs.adminCert), readFile(cp.certs.adminKey)]);
  const agent = new Agent({ ca, cert, key, keepAlive: true, maxSockets: 64 });
  return (method, path, body, contentType = 'application/json') =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = request(`${cp.server}${path}`, { method, agent, headers: { 'content-type': contentType, accept: 'application/json' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => ((res.statusCode ?? 0) < 300 ? resolve(JSON.parse(text)) : reject(new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`))));
      });
      req.on('error', reject);
      req.end(data);
    });
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
