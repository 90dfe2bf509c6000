// Running programs: the kernel tools the backends and the runtime drive, and (through the
// same runner and result) the tools the harness drives. Everything goes through one
// injected Runner, so tests can fake the world, or run the real tools inside a network
// namespace.
import { execa } from 'execa';

export interface RunResult {
  /** undefined when the program could not be started (not installed), timed out or was killed. */
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** Why it did not run to an exit, when it did not ("spawn x ENOENT", "timed out after ..."). */
  error?: string;
  /** It was killed for running past timeoutMs. */
  timedOut?: boolean;
  /** The signal that ended it, when one did. */
  signal?: string;
}

export interface RunOptions {
  /** Written to the program's standard input (otherwise it reads nothing). */
  input?: string;
  /**
   * Without `input`: written to the program's standard input in order, each chunk as it
   * is produced and once the program has taken the one before (a large input never
   * exists whole). Taken once.
   */
  inputChunks?: Iterable<string>;
  timeoutMs?: number;
  /** The program's whole environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * capture (default): keep stdout and stderr; stream: show them as they come, and keep
   * them; inherit: hand the terminal over (stdin too) and keep nothing, for long-running
   * interactive tools.
   */
  output?: 'capture' | 'stream' | 'inherit';
  /** Drop one final newline from stdout and stderr (default: keep them as printed). */
  stripFinalNewline?: boolean;
}

export type Runner = (file: string, args: readonly string[], opts?: RunOptions) => Promise<RunResult>;

/** Runs programs on this host, or with `prefix` in front (e.g. ["ip", "netns", "exec", "ns1"]). Never throws. */
export function processRunner(prefix: readonly string[] = []): Runner {
  return async (file, args, opts = {}) => {
    const [cmd, ...rest] = prefix.length > 0 ? [...prefix, file, ...args] : [file, ...args];
    const output = opts.output ?? 'capture';
    const shown = output === 'stream';
    const r = await execa(cmd!, rest, {
      reject: false,
      stripFinalNewline: opts.stripFinalNewline ?? false,
      maxBuffer: 1024 * 1024 * 1024,
      ...(output === 'inherit'
        ? { stdio: 'inherit' as const }
        : {
            ...(opts.input !== undefined ? { input: opts.input } : opts.inputChunks !== undefined ? { stdin: chunksOf(opts.inputChunks) } : { stdin: 'ignore' as const }),
            stdout: shown ? (['pipe', 'inherit'] as const) : ('pipe' as const),
            stderr: shown ? (['pipe', 'inherit'] as const) : ('pipe' as const),
          }),
      ...(opts.timeoutMs !== undefined && { timeout: opts.timeoutMs }),
      ...(opts.env !== undefined && { env: opts.env, extendEnv: false }),
      ...(opts.cwd !== undefined && { cwd: opts.cwd }),
    });
    const exitCode = typeof r.exitCode === 'number' ? r.exitCode : undefined;
    const stderr = typeof r.stderr === 'string' ? r.stderr : '';
    const notRun = exitCode === undefined;
    return {
      exitCode,
      stdout: typeof r.stdout === 'string' ? r.stdout : '',
      stderr: stderr || (r.failed && notRun ? String(r.message) : ''),
      ...(notRun && { error: r.shortMessage }),
      ...(r.timedOut && { timedOut: true }),
      ...(r.signal !== undefined && { signal: r.signal }),
    };
  };
}

/** The chunks as a generator: execa takes an array given as stdin for several inputs, not for one input's chunks. */
function* chunksOf(chunks: Iterable<string>): Generator<string, void, undefined> {
  yield* chunks;
}

/** What a run's standard input was given: `input`, or `inputChunks` joined (which takes them); undefined for neither. */
export function inputText(opts: RunOptions | undefined): string | undefined {
  if (opts?.input !== undefined) return opts.input;
  return opts?.inputChunks !== undefined ? [...opts.inputChunks].join('') : undefined;
}

/** Runs programs inside the network namespace `name` (ip netns exec). */
export function netnsRunner(name: string): Runner {
  return processRunner(['ip', 'netns', 'exec', name]);
}
