import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LocalState } from '../model/index.ts';
import { ProxyHealth } from './health-server.ts';
import { memoryLogger } from './log.ts';
import { ProxyMetrics } from './metrics.ts';
import { SyncRunner, type SyncRunnerOptions } from './sync-runner.ts';
import { deferred, fakeBackend, handOff, stateOf, type FakeBackend } from './testing.ts';

const t0 = Date.UTC(2026, 0, 1);

/** web with n endpoints, dns (UDP) with m endpoints. */
function states(...shape: Array<[number, number]>): LocalState[] {
  return shape.map(([n, m]) =>
    stateOf([
      { name: 'web', endpoints: Array.from({ length: n }, (_, i) => `10.0.1.${i + 1}`) },
      { name: 'dns', opts: { clusterIPs: ['10.96.0.53'], ports: [{ port: 53, protocol: 'UDP' }] }, endpoints: Array.from({ length: m }, (_, i) => `10.0.2.${i + 1}`), slicePorts: [{ port: 53, protocol: 'UDP' }] },
    ]),
  );
}

function setup(backend: FakeBackend = fakeBackend(), opts: Partial<SyncRunnerOptions> = {}) {
  const logger = memoryLogger();
  const runner = new SyncRunner({ backend, logger, syncPeriodMs: 30_000, ...opts });
  return { backend, logger, runner };
}

beforeEach(() => {
  vi.useFakeTimers({ now: t0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('SyncRunner', () => {
  it('sets the backend up on start, and the first sync is full', async () => {
    const { backend, runner } = setup();
    const [s1] = handOff(states([1, 1]));
    await runner.start();
    expect(backend.setupCalls).toBe(1);
    runner.onLocal(s1!.state, s1!.changes);
    await vi.advanceTimersByTimeAsync(0);
    expect(backend.calls).toEqual([{ state: s1!.state, changes: undefined }]);
    await runner.stop();
  });

  it('coalesces a burst into one sync of the latest state with the union of the changes', async () => {
    const { backend, runner } = setup();
    const [s1, s2, s3, s4] = handOff(states([1, 1], [2, 1], [2, 2], [3, 2]));
    await runner.start();
    runner.onLocal(s1!.state, s1!.changes);
    await vi.advanceTimersByTimeAsync(0);
    runner.onLocal(s2!.state, s2!.changes);
    runner.onLocal(s3!.state, s3!.changes);
    runner.onLocal(s4!.state, s4!.changes);
    await vi.advanceTimersByTimeAsync(0);
    expect(backend.calls).toHaveLength(2);
    expect(backend.calls[1]!.state).toBe(s4!.state);
    expect([...backend.calls[1]!.changes!.servicePorts].sort()).toEqual(['default/dns', 'default/web']);
    await runner.stop();
  });

  it('never runs two syncs at once: states that arrive during a sync wait for it, then go together', async () => {
    const { backend, runner } = setup();
    const [s1, s2, s3] = handOff(states([1, 1], [2, 1], [2, 2]));
    const slow = deferred<{ full: boolean }>();
    backend.outcomes.push(() => slow.promise);
    await runner.start();
    runner.onLocal(s1!.state, s1!.changes);
    await vi.advanceTimersByTimeAsync(0);
    runner.onLocal(s2!.state, s2!.changes);
    await vi.advanceTimersByTimeAsync(5_000);
    runner.onLocal(s3!.state, s3!.changes);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(backend.calls).toHaveLength(1);
    slow.resolve({ full: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(backend.maxConcurrent).toBe(1);
    expect(backend.calls).toHaveLength(2);
    expect(backend.calls[1]!.state).toBe(s3!.state);
    expect([...backend.calls[1]!.changes!.servicePorts].sort()).toEqual(['default/dns', 'default/web']);
    await runner.stop();
  });

  it('keeps --min-sync-period between the starts of two syncs', async () => {
    const { backend, runner } = setup(fakeBackend(), { minSyncPeriodMs: 1_000 });
    const [s1, s2] = handOff(states([1, 1], [2, 1]));
    await runner.start();
    runner.onLocal(s1!.state, s1!.changes);
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(100);
    runner.onLocal(s2!.state, s2!.changes);
    await vi.advanceTimersByTimeAsync(899);
    expect(backend.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(backend.calls).toHaveLength(2);
    await runner.stop();
  });

  it('on failure: logs, backs off 1 s doubling, and the next sync is full', async () => {
    const { backend, runner, logger } = setup();
    const [s1, s2] = handOff(states([1, 1], [2, 1]));
    await runner.start();
    runner.onLocal(s1!.state, s1!.changes);
    await vi.advanceTimersByTimeAsync(0);
    backend.outcomes.push(new Error('iptables-restore: line 7 failed'), new Error('iptables-restore: line 7 failed'));
    runner.onLocal(s2!.state, s2!.changes);
    await vi.advanceTimersByTimeAsync(0);
    expect(backend.calls).toHaveLength(2);
    expect(backend.calls[1]!.changes).toBeDefined(); // the failing one was partial
    expect(logger.lines.some((l) => l.level === 'error' && /sync failed/.test(l.msg))).toBe(true);

    await vi.advanceTimersByTimeAsync(999);
    expect(backend.calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(backend.calls).toHaveLength(3); // 1 s later, fails again
    expect(backend.calls[2]).toEqual({ state: s2!.state, changes: undefined });

    await vi.advanceTimersByTimeAsync(1_999);
    expect(backend.calls).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(backend.calls).toHaveLength(4); // 2 s later, succeeds
    expect(backend.calls[3]).toEqual({ state: s2!.state, changes: undefined });
    expect(runner.applied).toBe(s2!.state);
    await runner.stop();
  });

  it('caps the backoff at 30 s', async () => {
    const { backend, runner } = setup();
    const [s1] = handOff(states([1, 1]));
    backend.outcomes.push(...Array.from({ length: 8 }, () => new Error('boom')));
    await runner.start();
    runner.onLocal(s1!.state, s1!.changes);
    await vi.advanceTimersByTimeAsync(0);
    // 1 + 2 + 4 + 8 + 16 s, then 30 s each.
    await vi.advanceTimersByTimeAsync(31_000);
    expect(backend.calls).toHaveLength(6);
    await vi.advanceTimersByTimeAsync(29_999);
    expect(backend.calls).toHaveLength(6);
    await vi.advanceTimersByTimeAsync(1);
    expect(backend.calls).toHaveLength(7);
    await runner.stop();
  });

  it('keeps the union of the change sets across a failed sync (pending counts), until a sync succeeds', async () => {
    const backend = fakeBackend();
    const metrics = new ProxyMetrics({ backend: 'iptables', families: ['IPv4'], processMetrics: false });
    const { runner } = setup(backend, { metrics });
    const [s1, s2, s3] = handOff(states([1, 1], [2, 1], [2, 2]));
    const pending = async () => {
      const all = await metrics.registry.getMetricsAsJSON();
      return all.find((m) => m.name === 'kubeproxy_sync_proxy_rules_endpoint_changes_pending')!.values[0]!.value;
    };
    await runner.start();
    runner.onLocal(s1!.state, s1!.changes);
    await vi.advanceTimersByTimeAsync(0);
    backend.outcomes.push(new Error('boom'));
    runner.onLocal(s2!.state, s2!.changes); // web's endpoints
    await vi.advanceTimersByTimeAsync(0);
    expect(await pending()).toBe(1);
    runner.onLocal(s3!.state, s3!.changes); // dns's endpoints, during the backoff
    expect(await pending()).toBe(2);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(backend.calls.at(-1)).toEqual({ state: s3!.state, changes: undefined });
    expect(await pending()).toBe(0);
    await runner.stop();
  });

  it('asks the backend about tampering every --sync-period and resyncs in full when it says so', async () => {
    const backend = fakeBackend('nftables', { tampered: true });
    const { runner, logger } = setup(backend);
    const [s1] = handOff(states([1, 1]));
    await runner.start();
    runner.onLocal(s1!.state, s1!.changes);
    await vi.advanceTimersByTimeAsync(0);
    backend.tamperedAnswers.push(false, true);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(backend.tamperedCalls).toBe(1);
    expect(backend.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(30_000);
    await vi.advanceTimersByTimeAsync(1); // fake timers put a 0 ms timer set during a tick 1 ms later
    expect(backend.tamperedCalls).toBe(2);
    expect(backend.calls).toHaveLength(2);
    expect(backend.calls[1]).toEqual({ state: s1!.state, changes: undefined });
    expect(logger.lines.some((l) => l.level === 'warn' && /changed by someone else/.test(l.msg))).toBe(true);
    await runner.stop();
  });

  it('a tamper check that takes long holds no change back: syncs go on beside it', async () => {
    const backend = fakeBackend('nftables');
    const check = deferred<boolean>();
    backend.tampered = () => check.promise;
    const { runner } = setup(backend);
    const [s1, s2, s3] = handOff(states([1, 1], [2, 1], [2, 2]));
    await runner.start();
    runner.onLocal(s1!.state, s1!.changes);
    await vi.advanceTimersByTimeAsync(30_000); // the check starts, and hangs
    runner.onLocal(s2!.state, s2!.changes);
    await vi.advanceTimersByTimeAsync(0);
    runner.onLocal(s3!.state, s3!.changes);
    await vi.advanceTimersByTimeAsync(0);
    expect(backend.calls.map((c) => c.state)).toEqual([s1!.state, s2!.state, s3!.state]);
    check.resolve(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(backend.calls).toHaveLength(3);
    await runner.stop();
  });

  it('rules found tampered: unhealthy until a full sync begun after the finding succeeds', async () => {
    const health = new ProxyHealth({ healthTimeoutMs: 60_000, families: ['IPv4'] });
    const backend = fakeBackend('nftables');
    const check = deferred<boolean>();
    backend.tampered = () => check.promise;
    const { runner } = setup(backend, { health });
    const [s1, s2] = handOff(states([1, 1], [2, 1]));
    await runner.start();
    runner.onLocal(s1!.state, s1!.changes);
    await vi.advanceTimersByTimeAsync(30_000); // the check starts
    const slow = deferred<{ full: boolean }>();
    backend.outcomes.push(() => slow.promise, new Error('nft: table busy'));
    runner.onLocal(s2!.state, s2!.changes); // a partial sync, under way when the check finds tampering
    await vi.advanceTimersByTimeAsync(0);
    check.resolve(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(health.respond(true).code).toBe(503);
    slow.resolve({ full: false });
    await vi.advanceTimersByTimeAsync(1); // that sync ends; the full one after it fails
    expect(backend.calls.map((c) => c.changes === undefined)).toEqual([true, false, true]);
    expect(health.respond(true).code).toBe(503);
    await vi.advanceTimersByTimeAsync(1_000); // the retry repairs
    expect(backend.calls).toHaveLength(4);
    expect(backend.calls[3]).toEqual({ state: s2!.state, changes: undefined });
    expect(health.respond(true).code).toBe(200);
    await runner.stop();
  });

  it('under changes every 5 ms, syncs keep coming and each change is applied within --min-sync-period + one sync', async () => {
    const minSyncPeriodMs = 1_000;
    const syncMs = 300;
    const backend = fakeBackend();
    const { runner } = setup(backend, { minSyncPeriodMs });
    const handedAt = new Map<LocalState, number>();
    const applied: Array<{ state: LocalState; at: number }> = [];
    for (let i = 0; i < 100; i++) {
      backend.outcomes.push(async () => {
        const state = backend.calls.at(-1)!.state;
        await new Promise((r) => setTimeout(r, syncMs));
        applied.push({ state, at: Date.now() });
        return { full: false };
      });
    }
    const burst = handOff(Array.from({ length: 400 }, (_, i) => states([(i % 50) + 1, (i % 7) + 1])[0]!));
    await runner.start();
    for (const { state, changes } of burst) {
      handedAt.set(state, Date.now());
      runner.onLocal(state, changes);
      await vi.advanceTimersByTimeAsync(5);
    }
    const burstEnd = Date.now();
    await vi.advanceTimersByTimeAsync(minSyncPeriodMs + syncMs);
    expect(applied.filter((a) => a.at < burstEnd).length).toBeGreaterThanOrEqual(2); // 2 s of changes, a sync a second
    expect(applied.at(-1)!.state).toBe(burst.at(-1)!.state);
    // Each handed state is in effect once a sync of it, or of a later state, has ended.
    const order = burst.map((b) => b.state);
    for (const [i, state] of order.entries()) {
      const done = applied.find((a) => order.indexOf(a.state) >= i)!;
      expect(done.at - handedAt.get(state)!).toBeLessThanOrEqual(minSyncPeriodMs + syncMs);
    }
    await runner.stop();
  });

  it('resyncs in full every hour even when nothing changed', async () => {
    const { backend, runner } = setup();
    const [s1] = handOff(states([1, 1]));
    await runner.start();
    runner.onLocal(s1!.state, s1!.changes);
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(3_600_000 - 30_000);
    expect(backend.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(30_000);
    await vi.advanceTimersByTimeAsync(1); // fake timers put a 0 ms timer set during a tick 1 ms later
    expect(backend.calls).toHaveLength(2);
    expect(backend.calls[1]!.changes).toBeUndefined();
    await runner.stop();
  });

  describe('drain', () => {
    it('resolves at once when nothing was handed, and once the latest state is applied', async () => {
      const { runner } = setup();
      await expect(runner.drain()).resolves.toBeUndefined();
      const [s1, s2] = handOff(states([1, 1], [2, 1]));
      await runner.start();
      runner.onLocal(s1!.state, s1!.changes);
      runner.onLocal(s2!.state, s2!.changes);
      let done = false;
      const drained = runner.drain().then(() => (done = true));
      expect(done).toBe(false);
      await vi.advanceTimersByTimeAsync(0);
      await drained;
      expect(runner.applied).toBe(s2!.state);
      await runner.stop();
    });

    it('rejects with KPNG_ERR_SYNC_FAILED when the sync of the latest state fails, and keeps retrying', async () => {
      const { backend, runner } = setup();
      const [s1] = handOff(states([1, 1]));
      backend.outcomes.push(new Error('iptables-restore: exit status 2'));
      await runner.start();
      runner.onLocal(s1!.state, s1!.changes);
      const drained = runner.drain();
      const settled = expect(drained).rejects.toMatchObject({ code: 'KPNG_ERR_SYNC_FAILED', message: expect.stringContaining('exit status 2') });
      await vi.advanceTimersByTimeAsync(0);
      await settled;
      // Asked again during the backoff: the same answer.
      await expect(runner.drain()).rejects.toMatchObject({ code: 'KPNG_ERR_SYNC_FAILED' });
      await vi.advanceTimersByTimeAsync(1_000);
      await expect(runner.drain()).resolves.toBeUndefined();
      await runner.stop();
    });

    it('waits for the retry when a newer state came after the failed one', async () => {
      const { backend, runner } = setup();
      const [s1, s2] = handOff(states([1, 1], [2, 1]));
      const failing = deferred<{ full: boolean }>();
      backend.outcomes.push(() => failing.promise);
      await runner.start();
      runner.onLocal(s1!.state, s1!.changes);
      await vi.advanceTimersByTimeAsync(0);
      runner.onLocal(s2!.state, s2!.changes);
      const drained = runner.drain();
      failing.reject(new Error('boom'));
      await vi.advanceTimersByTimeAsync(1_000);
      await expect(drained).resolves.toBeUndefined();
      expect(runner.applied).toBe(s2!.state);
      await runner.stop();
    });

    it('rejects with KPNG_ERR_RUNNER_STOPPED when stopped first', async () => {
      const { runner } = setup();
      const [s1] = handOff(states([1, 1]));
      runner.onLocal(s1!.state, s1!.changes); // not started: nothing syncs
      const drained = runner.drain();
      await runner.stop();
      await expect(drained).rejects.toMatchObject({ code: 'KPNG_ERR_RUNNER_STOPPED' });
    });
  });

  it('stop() ends syncing without removing the rules', async () => {
    const backend = fakeBackend('iptables', { tampered: true });
    const { runner } = setup(backend);
    const [s1, s2] = handOff(states([1, 1], [2, 1]));
    await runner.start();
    runner.onLocal(s1!.state, s1!.changes);
    await vi.advanceTimersByTimeAsync(0);
    await runner.stop();
    runner.onLocal(s2!.state, s2!.changes);
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(backend.calls).toHaveLength(1);
    expect(backend.tamperedCalls).toBe(0);
    expect(backend.cleanupCalls).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('runs the after-sync steps with the previous and the new applied state; a failing step is logged only', async () => {
    const seen: Array<[LocalState | undefined, LocalState]> = [];
    const { runner, logger } = setup(fakeBackend(), {
      afterSync: [
        () => {
          throw new Error('conntrack exploded');
        },
        (prev, next) => {
          seen.push([prev, next]);
        },
      ],
    });
    const [s1, s2] = handOff(states([1, 1], [2, 1]));
    await runner.start();
    runner.onLocal(s1!.state, s1!.changes);
    await vi.advanceTimersByTimeAsync(0);
    runner.onLocal(s2!.state, s2!.changes);
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([
      [undefined, s1!.state],
      [s1!.state, s2!.state],
    ]);
    expect(logger.lines.filter((l) => /after-sync step failed/.test(l.msg))).toHaveLength(2);
    await runner.stop();
  });

  it('reports a sync in the metrics (last-sync timestamp, pending changes) only once its after-sync steps are done', async () => {
    const metrics = new ProxyMetrics({ backend: 'iptables', families: ['IPv4'], processMetrics: false });
    const cleanup = deferred<void>();
    const { runner } = setup(fakeBackend(), { metrics, afterSync: [() => cleanup.promise] });
    const gauge = async (name: string) => (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name)!.values[0]?.value;
    const [s1] = handOff(states([1, 1]));
    await runner.start();
    runner.onLocal(s1!.state, s1!.changes);
    await vi.advanceTimersByTimeAsync(0);
    // The rules are in, the conntrack cleanup is still running: not synced yet.
    expect(await gauge('kubeproxy_sync_proxy_rules_last_timestamp_seconds')).toBeUndefined();
    expect(await gauge('kubeproxy_sync_proxy_rules_service_changes_pending')).toBe(2);
    cleanup.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(await gauge('kubeproxy_sync_proxy_rules_last_timestamp_seconds')).toBe(t0 / 1000);
    expect(await gauge('kubeproxy_sync_proxy_rules_service_changes_pending')).toBe(0);
    await runner.stop();
  });

  it('reports unhealthy when a queued change stays unapplied for 2 × --sync-period', async () => {
    const health = new ProxyHealth({ healthTimeoutMs: 60_000, families: ['IPv4'] });
    const backend = fakeBackend();
    const { runner } = setup(backend, { health });
    const [s1, s2] = handOff(states([1, 1], [2, 1]));
    await runner.start();
    runner.onLocal(s1!.state, s1!.changes);
    await vi.advanceTimersByTimeAsync(0);
    expect(health.isHealthy()).toBe(true);
    backend.outcomes.push(() => new Promise(() => {})); // a sync that hangs
    runner.onLocal(s2!.state, s2!.changes);
    await vi.advanceTimersByTimeAsync(59_999);
    expect(health.isHealthy()).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(health.isHealthy()).toBe(false);
  });

  it('tells the health tracker about the node being deleted', async () => {
    const health = new ProxyHealth({ healthTimeoutMs: 60_000, families: ['IPv4'] });
    const { runner } = setup(fakeBackend(), { health });
    const s = stateOf([], { taints: ['ToBeDeletedByClusterAutoscaler'] });
    runner.onLocal(s, { servicePorts: new Set(), node: true });
    expect(health.nodeEligible()).toBe(false);
    await runner.stop();
  });
});
