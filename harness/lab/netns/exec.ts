// Running commands inside a namespace (`ip netns exec <ns> ...`) and `ip` itself.

import { execFileSync } from 'node:child_process';
import { netnsRunner, processRunner } from '../../../proxy/exec.ts';
import { NetnsExecError } from './errors.ts';

export interface ExecOptions {
  /** Written to the command's standard input. */
  input?: string;
  /** Kill the command after this long (default 30 s). */
  timeoutMs?: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
  cwd?: string;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const onHost = processRunner();

/** The argv that runs `file args...` inside `namespace` (or as is when namespace is undefined). */
export function commandIn(namespace: string | undefined, file: string, args: readonly string[]): [string, string[]] {
  return namespace === undefined ? [file, [...args]] : ['ip', ['netns', 'exec', namespace, file, ...args]];
}

/** Runs a command and returns its exit code and output; throws NetnsExecError only if it could not run to an exit (not found, timed out, killed). */
export async function runIn(namespace: string | undefined, file: string, args: readonly string[] = [], options: ExecOptions = {}): Promise<ExecResult> {
  const run = namespace === undefined ? onHost : netnsRunner(namespace);
  const result = await run(file, args, {
    stripFinalNewline: true,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    ...(options.input !== undefined && { input: options.input }),
    ...(options.env !== undefined && { env: { ...process.env, ...options.env } }),
    ...(options.cwd !== undefined && { cwd: options.cwd }),
  });
  if (result.exitCode === undefined) {
    throw new NetnsExecError({
      namespace,
      command: [file, ...args],
      exitCode: undefined,
      signal: result.signal,
      timedOut: result.timedOut ?? false,
      stdout: result.stdout,
      stderr: result.stderr || (result.error ?? ''),
      input: options.input,
    });
  }
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}

/** Runs a command and returns its standard output; throws NetnsExecError unless it exits 0. */
export async function execIn(namespace: string | undefined, file: string, args: readonly string[] = [], options: ExecOptions = {}): Promise<string> {
  const result = await runIn(namespace, file, args, options);
  if (result.exitCode !== 0) {
    throw new NetnsExecError({ namespace, command: [file, ...args], exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, input: options.input });
  }
  return result.stdout;
}

/** The synchronous form of execIn, for exit handlers. */
export function execInSync(namespace: string | undefined, file: string, args: readonly string[] = [], options: ExecOptions = {}): string {
  const [program, argv] = commandIn(namespace, file, args);
  try {
    return execFileSync(program, argv, {
      input: options.input,
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      env: options.env === undefined ? undefined : { ...process.env, ...options.env },
      cwd: options.cwd,
      encoding: 'utf8',
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    }).replace(/\n$/, '');
  } catch (error) {
    const e = error as { status?: number | null; signal?: string | null; stdout?: string; stderr?: string; code?: string };
    throw new NetnsExecError({
      namespace,
      command: [file, ...args],
      exitCode: e.status ?? undefined,
      signal: e.signal ?? undefined,
      timedOut: e.code === 'ETIMEDOUT',
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? String(error),
      input: options.input,
      cause: error,
    });
  }
}

/**
 * Runs `ip [-n namespace] [-force] -batch -` with one command per line (`link add ...`).
 * With force, every line is tried and the failures are reported together at the end.
 */
export async function ipBatch(namespace: string | undefined, lines: readonly string[], options: { force?: boolean } = {}): Promise<void> {
  if (lines.length === 0) return;
  await execIn(undefined, 'ip', ipBatchArgs(namespace, options.force ?? false), { input: `${lines.join('\n')}\n` });
}

export function ipBatchSync(namespace: string | undefined, lines: readonly string[], options: { force?: boolean } = {}): void {
  if (lines.length === 0) return;
  execInSync(undefined, 'ip', ipBatchArgs(namespace, options.force ?? false), { input: `${lines.join('\n')}\n` });
}

function ipBatchArgs(namespace: string | undefined, force: boolean): string[] {
  return [...(namespace === undefined ? [] : ['-n', namespace]), ...(force ? ['-force'] : []), '-batch', '-'];
}
