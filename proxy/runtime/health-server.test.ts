import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from './clock.ts';
import { ProxyHealth, rfc3339, startHealthServer, type RunningServer } from './health-server.ts';
import { memoryLogger } from './log.ts';
import { get } from './testing.ts';

const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function manualClock(start = t0): Clock & { t: number } {
  const c = { t: start, now: () => c.t, setTimeout: () => undefined, clearTimeout: () => undefined };
  return c;
}

describe('rfc3339', () => {
  it('formats like Go marshals time.Time: no trailing zeros in the fraction, zero time for never', () => {
    expect(rfc3339(Date.UTC(2026, 0, 2, 3, 4, 5, 120))).toBe('2026-01-02T03:04:05.12Z');
    expect(rfc3339(Date.UTC(2026, 0, 2, 3, 4, 5, 0))).toBe('2026-01-02T03:04:05Z');
    expect(rfc3339(undefined)).toBe('0001-01-01T00:00:00Z');
  });
});

describe('ProxyHealth', () => {
  it('is healthy while starting up (nothing updated yet), with no per-family status', () => {
    const clock = manualClock();
    const h = new ProxyHealth({ healthTimeoutMs: 60_000, families: ['IPv4'], clock });
    h.queuedUpdate();
    clock.t += 10 * 60_000;
    expect(h.report()).toEqual({ lastUpdated: '0001-01-01T00:00:00Z', currentTime: rfc3339(clock.t), healthy: true });
  });

  it('reports each family, and only the oldest pending update counts', () => {
    const clock = manualClock();
    const h = new ProxyHealth({ healthTimeoutMs: 60_000, families: ['IPv4', 'IPv6'], clock });
    h.updated();
    clock.t += 1_000;
    h.queuedUpdate();
    clock.t += 30_000;
    h.queuedUpdate(); // does not reset the clock
    clock.t += 30_000;
    const r = h.report();
    expect(r.healthy).toBe(false);
    expect(r.status).toEqual({ IPv4: { lastUpdated: rfc3339(t0), healthy: false }, IPv6: { lastUpdated: rfc3339(t0), healthy: false } });
  });

  it('stays unhealthy-pending for changes that arrived during a sync', () => {
    const clock = manualClock();
    const h = new ProxyHealth({ healthTimeoutMs: 60_000, families: ['IPv4'], clock });
    h.updated(t0); // a change queued at t0 is still pending after this sync
    clock.t += 60_000;
    expect(h.isHealthy()).toBe(false);
    h.updated();
    expect(h.isHealthy()).toBe(true);
  });

  it('is unhealthy while the rules are known to be wrong, however recent the last update, until repaired', () => {
    const clock = manualClock();
    const h = new ProxyHealth({ healthTimeoutMs: 60_000, families: ['IPv4', 'IPv6'], clock });
    h.updated();
    h.rulesKnownWrong();
    h.updated(); // a sync that did not repair them (partial, or begun before the finding)
    expect(h.respond(true).code).toBe(503);
    expect(h.report().status).toEqual({ IPv4: { lastUpdated: rfc3339(t0), healthy: false }, IPv6: { lastUpdated: rfc3339(t0), healthy: false } });
    h.rulesRepaired();
    expect(h.respond(true).code).toBe(200);
  });
});

describe('health server', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function serve(h: ProxyHealth, answers: string[] = []) {
    server = await startHealthServer({ health: h, bind: { host: '127.0.0.1', port: 0 }, logger: memoryLogger(), onAnswer: (p, c) => answers.push(`${p} ${c}`) });
    return `http://127.0.0.1:${server.address.port}`;
  }

  it('answers /healthz with kube-proxy JSON and headers, then 503 once a queued update waits 2 × sync period', async () => {
    const clock = manualClock();
    const h = new ProxyHealth({ healthTimeoutMs: 60_000, families: ['IPv4'], clock });
    const answers: string[] = [];
    const base = await serve(h, answers);
    h.updated();
    clock.t += 5_000;

    let res = await get(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const now = rfc3339(clock.t);
    // Healthy: lastUpdated is "now", as kube-proxy reports it.
    expect(JSON.parse(res.body)).toEqual({ lastUpdated: now, currentTime: now, nodeEligible: true, healthy: true, status: { IPv4: { lastUpdated: rfc3339(t0), healthy: true } } });
    expect(Object.keys(JSON.parse(res.body))).toEqual(['lastUpdated', 'currentTime', 'nodeEligible', 'healthy', 'status']);

    h.queuedUpdate();
    clock.t += 59_999;
    expect((await get(`${base}/healthz`)).status).toBe(200);
    clock.t += 1;
    res = await get(`${base}/healthz`);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toEqual({
      lastUpdated: rfc3339(t0),
      currentTime: rfc3339(clock.t),
      nodeEligible: true,
      healthy: false,
      status: { IPv4: { lastUpdated: rfc3339(t0), healthy: false } },
    });
    expect((await get(`${base}/livez`)).status).toBe(503);

    h.updated();
    expect((await get(`${base}/healthz`)).status).toBe(200);
    expect(answers).toEqual(['/healthz 200', '/healthz 200', '/healthz 503', '/livez 503', '/healthz 200']);
  });

  it('answers /healthz 503 with nodeEligible false for a node being deleted; /livez ignores the node', async () => {
    const clock = manualClock();
    const h = new ProxyHealth({ healthTimeoutMs: 60_000, families: ['IPv4'], clock });
    const base = await serve(h);
    h.updated();
    for (const node of [{ deleting: true, toBeDeleted: false }, { deleting: false, toBeDeleted: true }]) {
      h.syncNode(node);
      const hz = await get(`${base}/healthz`);
      expect(hz.status).toBe(503);
      expect(JSON.parse(hz.body)).toMatchObject({ nodeEligible: false, healthy: true });
      const lz = await get(`${base}/livez`);
      expect(lz.status).toBe(200);
      expect(lz.headers['content-type']).toBe('application/json');
      expect(JSON.parse(lz.body)).not.toHaveProperty('nodeEligible');
    }
    h.syncNode({ deleting: false, toBeDeleted: false });
    expect((await get(`${base}/healthz`)).status).toBe(200);
  });

  it('answers 404 elsewhere', async () => {
    const base = await serve(new ProxyHealth({ healthTimeoutMs: 60_000, families: ['IPv4'] }));
    expect((await get(`${base}/metrics`)).status).toBe(404);
  });

  it('bound to 0.0.0.0 (the default), answers on IPv6 too, as kube-proxy does', async () => {
    const h = new ProxyHealth({ healthTimeoutMs: 60_000, families: ['IPv4', 'IPv6'] });
    server = await startHealthServer({ health: h, bind: { host: '0.0.0.0', port: 0 }, logger: memoryLogger() });
    for (const host of ['127.0.0.1', '[::1]']) expect((await get(`http://${host}:${server.address.port}/healthz`)).status, host).toBe(200);
  });

  it('fails to start with KPNG_ERR_LISTEN when the port is taken', async () => {
    const h = new ProxyHealth({ healthTimeoutMs: 60_000, families: ['IPv4'] });
    await serve(h);
    await expect(startHealthServer({ health: h, bind: { host: '127.0.0.1', port: server!.address.port }, logger: memoryLogger() })).rejects.toMatchObject({
      code: 'KPNG_ERR_LISTEN',
    });
  });
});
