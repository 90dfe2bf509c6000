import { describe, expect, it } from 'vitest';
import { until } from './until.ts';

describe('until', () => {
  it('returns the first answer the step gives, asking again while it gives none', async () => {
    let calls = 0;
    await expect(until('the third call', 1_000, async () => (++calls === 3 ? 'ready' : undefined), 1)).resolves.toBe('ready');
    expect(calls).toBe(3);
  });

  it('gives up after the timeout, naming what it waited for', async () => {
    await expect(until('a pod to run', 50, async () => undefined, 5)).rejects.toThrow('a pod to run: not within 0.05 s');
  });
});
