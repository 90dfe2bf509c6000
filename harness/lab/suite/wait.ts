// Waiting for the dataplane to converge: poll a check until it passes or a deadline
// passes, as the upstream e2e framework polls (KubeProxyEndpointLagTimeout = 30 s). No
// fixed sleeps: a check that passes at once costs nothing.

/** How long the proxy may take to program a change (the upstream framework's KubeProxyEndpointLagTimeout). */
export const ENDPOINT_LAG_TIMEOUT_MS = 30_000;
export const POLL_INTERVAL_MS = 200;

/** A spec's expectation was not met: the message says what was expected and what happened. */
export class SpecFailure extends Error {
  readonly code = 'KPNG_ERR_LAB_SPEC';
  constructor(message: string) {
    super(message);
    this.name = 'SpecFailure';
  }
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** What a check returns: a value when it passed, or `{ failed: why }` to be tried again. */
export type CheckResult<T> = { ok: true; value: T } | { ok: false; why: string };

export const pass = <T>(value: T): CheckResult<T> => ({ ok: true, value });
export const notYet = (why: string): CheckResult<never> => ({ ok: false, why });

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `check` until it passes; throws SpecFailure "<what>: not so after N s: <last why>"
 * at the deadline. A check that throws is tried again too (its message is the why).
 */
export async function waitFor<T>(what: string, check: () => Promise<CheckResult<T>>, opts: WaitOptions = {}): Promise<T> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? realSleep;
  const timeout = opts.timeoutMs ?? ENDPOINT_LAG_TIMEOUT_MS;
  const deadline = now() + timeout;
  let attempts = 0;
  let why: string;
  for (;;) {
    attempts++;
    try {
      const result = await check();
      if (result.ok) return result.value;
      why = result.why;
    } catch (error) {
      why = error instanceof Error ? error.message : String(error);
    }
    if (now() >= deadline) break;
    await sleep(Math.min(opts.intervalMs ?? POLL_INTERVAL_MS, Math.max(0, deadline - now())));
  }
  throw new SpecFailure(`${what}: still not so after ${(timeout / 1000).toFixed(0)} s (${attempts} checks); last: ${why}`);
}
