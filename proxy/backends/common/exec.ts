// Running the kernel tools. Everything a backend runs goes through one injected Runner,
// so tests can fake the world, or run the real tools inside a network namespace.
import { execa } from 'execa';

export interface RunResult {
  /** undefined when the program could not be started (not installed) or was killed. */
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the program's standard input. */
  input?: string;
  timeoutMs?: number;
}

export type Runner = (file: string, args: readonly string[], opts?: RunOptions) => Promise<RunResult>;

/** Runs programs on this host, or with `prefix` in front (e.g. ["ip", "netns", "exec", "ns1"]). */
export function processRunner(prefix: readonly string[] = []): Runner {
  return async (file, args, opts = {}) => {
    const [cmd, ...rest] = prefix.length > 0 ? [...prefix, file, ...args] : [file, ...args];
    const r = await execa(cmd!, rest, {
      reject: false,
      stripFinalNewline: false,
      maxBuffer: 1024 * 1024 * 1024,
      ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
      ...(opts.timeoutMs !== undefined && { timeout: opts.timeoutMs }),
    });
    const stderr = typeof r.stderr === 'string' ? r.stderr : '';
    return {
      exitCode: typeof r.exitCode === 'number' ? r.exitCode : undefined,
      stdout: typeof r.stdout === 'string' ? r.stdout : '',
      stderr: stderr || (r.failed && r.exitCode === undefined ? String(r.message) : ''),
    };
  };
}

/** Runs programs inside the network namespace `name` (ip netns exec). */
export function netnsRunner(name: string): Runner {
  return processRunner(['ip', 'netns', 'exec', name]);
}
