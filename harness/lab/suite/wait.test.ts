import { describe, expect, it } from 'vitest';
import { SpecFailure, notYet, pass, waitFor } from './wait.ts';

function fakeClock() {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => void (t += ms), elapsed: () => t };
}

describe('waitFor', () => {
  it('returns as soon as the check passes, without sleeping first', async () => {
    const clock = fakeClock();
    await expect(waitFor('x', async () => pass(42), clock)).resolves.toBe(42);
    expect(clock.elapsed()).toBe(0);
  });

  it('polls until the check passes', async () => {
    const clock = fakeClock();
    let n = 0;
    const value = await waitFor('x', async () => (++n >= 4 ? pass('done') : notYet(`try ${n}`)), { ...clock, intervalMs: 100 });
    expect(value).toBe('done');
    expect(clock.elapsed()).toBe(300);
  });

  it('fails at the deadline with what was awaited and the last reason', async () => {
    const clock = fakeClock();
    let n = 0;
    const failure = await waitFor('pod a answers', async () => notYet(`answered by b (${++n})`), { ...clock, timeoutMs: 1_000, intervalMs: 250 }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(SpecFailure);
    expect((failure as Error).message).toBe('pod a answers: still not so after 1 s (5 checks); last: answered by b (5)');
  });

  it('counts a throwing check as not yet, with its message', async () => {
    const clock = fakeClock();
    const failure = await waitFor('x', async () => {
      throw new Error('connection refused');
    }, { ...clock, timeoutMs: 200 }).catch((e: unknown) => e);
    expect((failure as Error).message).toMatch(/last: connection refused$/);
  });
});
