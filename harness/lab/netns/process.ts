// A long-running process inside a namespace (a proxy under test, an echo server), with
// its output captured.

import { execa, type ResultPromise } from 'execa';
import { commandIn, type Placement } from './exec.ts';

export interface SpawnOptions extends Placement {
  /** Extra environment variables. */
  env?: Record<string, string>;
  cwd?: string;
  /**
   * `pipe` keeps the process's standard input open for as long as this process lives
   * (a child can watch for its end to notice that we died); default `ignore`.
   */
  stdin?: 'ignore' | 'pipe';
}

export interface ExitInfo {
  /** The exit code, undefined when it was killed by a signal. */
  exitCode: number | undefined;
  signal: string | undefined;
}

/** A process running inside a namespace. Its pid is the program's own (ip netns exec, nsenter and the cgroup step each exec the next). */
export class NsProcess {
  readonly namespace: string;
  /** The program and its arguments. */
  readonly command: readonly string[];
  readonly pid: number;
  /** Settles when the process has exited, however it ended. Never rejects. */
  readonly exited: Promise<ExitInfo>;
  #stdout = '';
  #stderr = '';
  #output = '';
  #exit: ExitInfo | undefined;
  #child: ResultPromise;
  #watchers = new Set<() => void>();
  #lineListeners = new Set<(line: string, stream: 'stdout' | 'stderr') => void>();
  #partial = { stdout: '', stderr: '' };

  constructor(namespace: string, file: string, args: readonly string[], options: SpawnOptions = {}) {
    this.namespace = namespace;
    this.command = [file, ...args];
    const [program, argv] = commandIn(namespace, file, args, options);
    this.#child = execa(program, argv, {
      reject: false,
      buffer: false,
      stdin: options.stdin ?? 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      env: options.env,
      cwd: options.cwd,
      // Our own cleanup (Topology.destroy and the exit hook) ends these processes.
      cleanup: false,
    });
    if (this.#child.pid === undefined) {
      // Spawning failed at once (e.g. `ip` not found); `exited` will say how.
      this.pid = -1;
    } else {
      this.pid = this.#child.pid;
    }
    const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer | string) => {
      const text = chunk.toString();
      if (stream === 'stdout') this.#stdout += text;
      else this.#stderr += text;
      this.#output += text;
      const lines = (this.#partial[stream] + text).split('\n');
      this.#partial[stream] = lines.pop() ?? '';
      for (const line of lines) for (const listener of this.#lineListeners) listener(line, stream);
      for (const watcher of this.#watchers) watcher();
    };
    this.#child.stdout?.on('data', collect('stdout'));
    this.#child.stderr?.on('data', collect('stderr'));
    this.exited = this.#child.then(
      (result) => {
        if (result.failed && result.exitCode === undefined && result.signal === undefined) {
          this.#stderr += `${result.message}\n`;
          this.#output += `${result.message}\n`;
        }
        this.#exit = { exitCode: result.exitCode, signal: result.signal };
        for (const watcher of this.#watchers) watcher();
        return this.#exit;
      },
      (error: unknown) => {
        this.#output += `${String(error)}\n`;
        this.#exit = { exitCode: undefined, signal: undefined };
        for (const watcher of this.#watchers) watcher();
        return this.#exit;
      },
    );
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Standard output and error, interleaved as they arrived. */
  get output(): string {
    return this.#output;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** How it ended, once it has. */
  get exit(): ExitInfo | undefined {
    return this.#exit;
  }

  /** Calls `listener` with each complete line the process prints from now on. Returns a function that stops it. */
  onLine(listener: (line: string, stream: 'stdout' | 'stderr') => void): () => void {
    this.#lineListeners.add(listener);
    return () => this.#lineListeners.delete(listener);
  }

  /** Writes to the process's standard input (spawned with stdin: 'pipe'). */
  write(text: string): void {
    this.#child.stdin?.write(text);
  }

  /**
   * Waits until the output (stdout and stderr) matches. Resolves with the match; rejects
   * with the output so far when the process exits first or the time runs out.
   */
  waitForOutput(pattern: RegExp | string, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const regex = typeof pattern === 'string' ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : pattern;
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = this.#output.match(regex);
        if (match) {
          done();
          resolve(match);
        } else if (this.#exit !== undefined) {
          done();
          reject(new Error(`${this.describe()} exited (${describeExit(this.#exit)}) before printing ${regex}; output:\n${this.#output}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.describe()} did not print ${regex} within ${timeoutMs} ms; output:\n${this.#output}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#watchers.delete(check);
      };
      this.#watchers.add(check);
      check();
    });
  }

  /** Sends a signal (default SIGTERM). Does nothing once it has exited. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.#exit === undefined && this.pid > 0) {
      try {
        process.kill(this.pid, signal);
      } catch {
        // Already gone.
      }
    }
  }

  /** Sends `signal` (default SIGTERM), then SIGKILL after `graceMs` (default 3 s); resolves when it has exited. */
  async stop(options: { signal?: NodeJS.Signals; graceMs?: number } = {}): Promise<ExitInfo> {
    if (this.#exit !== undefined) return this.#exit;
    this.#child.stdin?.end();
    this.kill(options.signal ?? 'SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), options.graceMs ?? 3_000);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  describe(): string {
    return `\`${this.command.join(' ')}\` (pid ${this.pid}) in ${this.namespace}`;
  }
}

function describeExit(exit: ExitInfo): string {
  return exit.signal !== undefined ? `signal ${exit.signal}` : `exit code ${String(exit.exitCode)}`;
}

/** Whether a process with this pid exists (signal 0; a process of another user counts). */
export function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
