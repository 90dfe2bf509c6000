// Exponential backoff with jitter, for restarting lists and watches.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** 0..1: how much of each delay is random. */
  jitter: number;
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly opts: BackoffOptions;

  constructor(opts: BackoffOptions) {
    this.opts = opts;
  }

  /** The delay before the next attempt; grows until reset(). */
  next(): number {
    const { initialMs, maxMs, jitter } = this.opts;
    const base = Math.min(maxMs, initialMs * 2 ** this.attempt);
    this.attempt++;
    const r = (this.opts.random ?? Math.random)();
    return Math.round(base * (1 - jitter + jitter * r));
  }

  reset(): void {
    this.attempt = 0;
  }
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
