// Real requests through the lab, and the expectations the specs make about them: who
// answered, what source address the server saw, and how a request failed (REJECT reads as
// refused, DROP as timeout).
import { ProbeError, parseEcho, urlFor, type Namespace } from '../netns/index.ts';
import { SpecFailure, notYet, pass, waitFor, type WaitOptions } from './wait.ts';

export type Protocol = 'TCP' | 'UDP';

/** An address and port to send to (TCP: an HTTP GET on a new connection; UDP: one datagram). */
export interface Target {
  ip: string;
  port: number;
  protocol?: Protocol;
}

export interface Answer {
  /** The pod that answered (its API name when it is a lab pod). */
  pod: string;
  /** The source address the server saw. */
  client: string;
  clientPort: number;
}

export type Outcome = { ok: true; answer: Answer } | { ok: false; kind: string; message: string };

export interface RequestOptions {
  /** How long one request waits for an answer (default 2 s). */
  answerTimeoutMs?: number;
  /** UDP: send from this source port (a flow conntrack remembers). */
  sourcePort?: number;
}

export function describeTarget(target: Target): string {
  const host = target.ip.includes(':') ? `[${target.ip}]` : target.ip;
  return `${(target.protocol ?? 'TCP').toLowerCase()} ${host}:${target.port}`;
}

/** Who makes requests: a namespace, and how the echo servers' names map to pod names. */
export interface TrafficOptions {
  /** Defaults of every wait (the deadline: the spec's endpoint lag timeout). */
  wait?: WaitOptions;
  /** Runs once, before the first request (SpecHooks.beforeTraffic). */
  beforeFirst?: () => Promise<void>;
}

export class Traffic {
  readonly #podName: (echoName: string) => string;
  readonly #wait: WaitOptions;
  readonly #beforeFirst: (() => Promise<void>) | undefined;
  #first: Promise<void> | undefined;

  constructor(podName: (echoName: string) => string, opts: TrafficOptions = {}) {
    this.#podName = podName;
    this.#wait = opts.wait ?? {};
    this.#beforeFirst = opts.beforeFirst;
  }

  /** One request; the answer, or how it failed. */
  async send(from: Namespace, target: Target, opts: RequestOptions = {}): Promise<Outcome> {
    if (this.#beforeFirst) await (this.#first ??= this.#beforeFirst());
    const timeoutMs = opts.answerTimeoutMs ?? 2_000;
    try {
      const text =
        (target.protocol ?? 'TCP') === 'TCP'
          ? (await from.httpGet(urlFor(target.ip, target.port), { timeoutMs })).body
          : (await from.udpExchange(target.ip, target.port, 'hello', { timeoutMs, ...(opts.sourcePort !== undefined && { sourcePort: opts.sourcePort }) })).payload;
      const echo = parseEcho(text);
      return { ok: true, answer: { ...echo, pod: this.#podName(echo.pod) } };
    } catch (error) {
      if (error instanceof ProbeError) return { ok: false, kind: error.kind, message: error.message };
      return { ok: false, kind: 'error', message: (error as Error).message };
    }
  }

  /** One request that must be answered; throws SpecFailure saying how it failed. */
  async ask(from: Namespace, target: Target, opts: RequestOptions = {}): Promise<Answer> {
    const outcome = await this.send(from, target, opts);
    if (!outcome.ok) throw new SpecFailure(`${from.name} → ${describeTarget(target)}: no answer (${outcome.kind}: ${outcome.message})`);
    return outcome.answer;
  }

  /** `n` requests that must all be answered; the pods that answered, in order. */
  async sample(from: Namespace, target: Target, n: number, opts: RequestOptions = {}): Promise<Answer[]> {
    const answers: Answer[] = [];
    for (let i = 0; i < n; i++) answers.push(await this.ask(from, target, opts));
    return answers;
  }

  /**
   * Waits until a request is answered, by one of `by` when given, with the server seeing
   * `client` as source when given. Returns that answer.
   */
  reaches(from: Namespace, target: Target, expect: { by?: readonly string[]; client?: string } = {}, opts: RequestOptions & WaitOptions = {}): Promise<Answer> {
    const what = `${from.name} → ${describeTarget(target)} answered${expect.by ? ` by ${expect.by.join(' or ')}` : ''}${expect.client ? ` seeing source ${expect.client}` : ''}`;
    return waitFor(
      what,
      async () => {
        const outcome = await this.send(from, target, opts);
        if (!outcome.ok) return notYet(`${outcome.kind}: ${outcome.message}`);
        const { answer } = outcome;
        if (expect.by && !expect.by.includes(answer.pod)) return notYet(`answered by ${answer.pod}`);
        if (expect.client !== undefined && answer.client !== expect.client) return notYet(`${answer.pod} saw source ${answer.client}, not ${expect.client}`);
        return pass(answer);
      },
      { ...this.#wait, ...opts },
    );
  }

  /**
   * Waits until every pod of `pods` answers and nothing else does: converged once, since
   * the last failed request or answer from a pod outside the set, every pod of the set has
   * answered and at least `streak` requests in a row (default 10, or 3 per pod) succeeded.
   */
  servedBy(from: Namespace, target: Target, pods: readonly string[], opts: RequestOptions & WaitOptions & { streak?: number } = {}): Promise<void> {
    const streak = opts.streak ?? Math.max(10, 3 * pods.length);
    let seen = new Map<string, number>();
    let run = 0;
    const what = `${from.name} → ${describeTarget(target)} served by exactly {${[...pods].sort().join(', ')}}`;
    return waitFor(
      what,
      async () => {
        const outcome = await this.send(from, target, { answerTimeoutMs: 1_000, ...opts });
        if (!outcome.ok) {
          // A request that fails may have gone to an endpoint that is gone: not converged yet.
          seen = new Map();
          run = 0;
          return notYet(`${outcome.kind}: ${outcome.message}`);
        }
        const pod = outcome.answer.pod;
        if (!pods.includes(pod)) {
          seen = new Map();
          run = 0;
          return notYet(`answered by ${pod}, which is not in the set`);
        }
        seen.set(pod, (seen.get(pod) ?? 0) + 1);
        run++;
        const missing = pods.filter((p) => !seen.has(p));
        if (missing.length > 0) return notYet(`not yet answered by ${missing.join(', ')} (seen: ${[...seen.keys()].join(', ')})`);
        return run >= streak ? pass(undefined) : notYet(`${run} of ${streak} answers in a row from the set so far`);
      },
      { ...this.#wait, intervalMs: 0, ...opts },
    );
  }

  /**
   * Waits until a request fails the way `kind` says: `refused` (REJECT: TCP reset or ICMP
   * port unreachable), `timeout` (DROP), `unreachable` (no route), or `any`.
   */
  fails(from: Namespace, target: Target, kind: 'refused' | 'timeout' | 'unreachable' | 'any', opts: RequestOptions & WaitOptions = {}): Promise<void> {
    const what = `${from.name} → ${describeTarget(target)} ${kind === 'any' ? 'not answered' : `failing with ${kind}`}`;
    return waitFor(
      what,
      async () => {
        const outcome = await this.send(from, target, { answerTimeoutMs: 1_000, ...opts });
        if (outcome.ok) return notYet(`answered by ${outcome.answer.pod} (source ${outcome.answer.client})`);
        if (kind !== 'any' && outcome.kind !== kind) return notYet(`failed with ${outcome.kind}: ${outcome.message}`);
        return pass(undefined);
      },
      { ...this.#wait, ...opts },
    );
  }
}

/** "a ×3, b ×2": who answered how often. */
export function tally(answers: readonly Answer[]): string {
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(a.pod, (counts.get(a.pod) ?? 0) + 1);
  return [...counts].map(([pod, n]) => `${pod} ×${n}`).join(', ');
}

export function distinctPods(answers: readonly Answer[]): string[] {
  return [...new Set(answers.map((a) => a.pod))];
}
