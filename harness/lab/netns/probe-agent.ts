// One long-lived probe client per namespace (probe-client.ts --agent), so that a probe
// costs a line on a pipe instead of a node start (~2 ms instead of ~60-150 ms): tests
// that count answers over hundreds of requests (load balancing, affinity) stay fast.

import type { NsProcess } from './process.ts';
import { programCommand } from './programs.ts';
import type { ProbeOutcome, ProbeRequest } from './probe-protocol.ts';
import { harnessErrorText } from '../../config/error-codes.ts';

/** How the agent's process is started (Namespace.spawn, so that destroy() ends it). */
export type Spawner = (file: string, args: readonly string[], options: { env: Record<string, string>; stdin: 'pipe' }) => NsProcess;

/** The agent's process ended before it answered: the request may never have been made. */
export class ProbeAgentExitedError extends Error {
  readonly code = 'KPNG_ERR_PROBE_AGENT_EXITED';
}

/** Slack on top of a request's own timeout before the agent counts as hung. */
const AGENT_SLACK_MS = 10_000;

export class ProbeAgent {
  readonly process: NsProcess;
  #nextId = 1;
  #pending = new Map<number, { resolve: (outcome: ProbeOutcome) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();

  private constructor(child: NsProcess) {
    this.process = child;
    child.onLine((line, stream) => {
      if (stream !== 'stdout' || !line.startsWith('{"id"')) return;
      const { id, outcome } = JSON.parse(line) as { id: number; outcome: ProbeOutcome };
      const waiting = this.#pending.get(id);
      if (waiting === undefined) return;
      this.#pending.delete(id);
      clearTimeout(waiting.timer);
      waiting.resolve(outcome);
    });
    void child.exited.then((exit) => {
      const error = new ProbeAgentExitedError(harnessErrorText('KPNG_ERR_PROBE_AGENT_EXITED', `probe agent ${child.describe()} exited (${JSON.stringify(exit)}); output:\n${child.output}`));
      for (const waiting of this.#pending.values()) {
        clearTimeout(waiting.timer);
        waiting.reject(error);
      }
      this.#pending.clear();
    });
  }

  /** Starts an agent and waits until it reads requests. */
  static async start(spawn: Spawner): Promise<ProbeAgent> {
    const command = programCommand('probe-client', '--agent');
    const child = spawn(command.file, command.args, { env: command.env, stdin: 'pipe' });
    await child.waitForOutput(/"ready":true/, 15_000);
    return new ProbeAgent(child);
  }

  get running(): boolean {
    return this.process.running;
  }

  /** Makes one request from the agent's namespace. */
  request(request: ProbeRequest): Promise<ProbeOutcome> {
    if (!this.running) return Promise.reject(new ProbeAgentExitedError(harnessErrorText('KPNG_ERR_PROBE_AGENT_EXITED', `probe agent ${this.process.describe()} has exited`)));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`probe agent ${this.process.describe()} did not answer request ${id} within ${request.timeoutMs + AGENT_SLACK_MS} ms`));
      }, request.timeoutMs + AGENT_SLACK_MS);
      this.#pending.set(id, { resolve, reject, timer });
      this.process.write(`${JSON.stringify({ id, request })}\n`);
    });
  }
}
