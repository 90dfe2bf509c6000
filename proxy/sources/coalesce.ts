// Coalescing a stream of "something changed" into runs of one task, with a bounded delay.
// A run waits for `quietMs` without a change (a writer is done with the file), but never
// longer than `maxDelayMs` after the oldest change it has not read yet, however often
// changes keep coming (kube-proxy's BoundedFrequencyRunner bounds its delay the same way).
// Runs never overlap: one that comes due while another is under way starts after it.
import { systemClock, type Clock } from '../runtime/clock.ts';

export interface CoalescerOptions {
  /** Quiet time after a change before running. */
  quietMs: number;
  /** Longest wait after the oldest change not yet run for (≥ quietMs). */
  maxDelayMs: number;
  run: () => Promise<void>;
  /** Told of a run that rejected (the next change runs again). */
  onError: (err: unknown) => void;
  clock?: Clock;
}

export class Coalescer {
  readonly #o: CoalescerOptions;
  readonly #clock: Clock;
  #timer: unknown;
  /** When the oldest change not yet handed to a run came. */
  #oldest: number | undefined;
  #runs: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(o: CoalescerOptions) {
    if (!(o.maxDelayMs >= o.quietMs)) throw new RangeError(`maxDelayMs (${o.maxDelayMs}) must be at least quietMs (${o.quietMs})`);
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
  }

  /** Something changed: run `quietMs` from now, or sooner if the oldest waiting change is due. */
  changed(): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    this.#oldest ??= now;
    const due = Math.min(now + this.#o.quietMs, this.#oldest + this.#o.maxDelayMs);
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = this.#clock.setTimeout(() => this.#fire(), Math.max(0, due - now));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#oldest = undefined;
    this.#runs = this.#runs.then(() => (this.#closed ? undefined : this.#o.run())).catch((err: unknown) => this.#o.onError(err));
  }

  /** Stop: no further runs start; resolves once a run under way has ended. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#runs;
  }
}
