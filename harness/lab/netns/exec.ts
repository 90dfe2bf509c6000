// Running commands inside a namespace (`ip netns exec <ns> ...`) and `ip` itself, placed
// in a node's cgroup where the topology gives nodes one.

import { execFileSync } from 'node:child_process';
import { processRunner, type Runner } from '../../../proxy/exec.ts';
import { NetnsExecError } from './errors.ts';

/** Where a process runs besides its network namespace. */
export interface Placement {
  /** A cgroup2 folder the process joins before it runs (its pid written to cgroup.procs, then it execs the program). */
  cgroup?: string;
  /**
   * Keep the host's mounts: enter only the network namespace (`nsenter --net`) instead of
   * `ip netns exec`, which also remounts /sys for the namespace (hiding /sys/fs/cgroup and
   * /sys/fs/bpf). For the proxy, which reaches both as a node's proxy pod does through
   * its host mounts; nothing the lab runs reads the namespace's own /sys.
   */
  hostMounts?: boolean;
}

export interface ExecOptions extends Placement {
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

/** What goes before a program's argv to run it inside `namespace` (none when undefined), placed as asked. The program keeps the pid: each step execs the next. */
export function prefixIn(namespace: string | undefined, placement: Placement = {}): string[] {
  const netns = namespace === undefined ? [] : placement.hostMounts ? ['nsenter', `--net=/run/netns/${namespace}`, '--'] : ['ip', 'netns', 'exec', namespace];
  // The shell joins the cgroup, then execs the rest: the program runs in it from its first instruction.
  return placement.cgroup === undefined ? netns : ['sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', placement.cgroup, ...netns];
}

/** The argv that runs `file args...` inside `namespace` (or as is when namespace is undefined), placed as asked. */
export function commandIn(namespace: string | undefined, file: string, args: readonly string[], placement: Placement = {}): [string, string[]] {
  const [program, ...rest] = [...prefixIn(namespace, placement), file, ...args];
  return [program!, rest];
}

/** A Runner (proxy/exec.ts) for programs inside `namespace`, placed as asked: what a backend's kernel tools run through. */
export function runnerIn(namespace: string | undefined, placement: Placement = {}): Runner {
  return processRunner(prefixIn(namespace, placement));
}

/** Runs a command and returns its exit code and output; throws NetnsExecError only if it could not run to an exit (not found, timed out, killed). */
export async function runIn(namespace: string | undefined, file: string, args: readonly string[] = [], options: ExecOptions = {}): Promise<ExecResult> {
  const run = namespace === undefined && options.cgroup === undefined ? onHost : runnerIn(namespace, options);
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
  const [program, argv] = commandIn(namespace, file, args, options);
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
