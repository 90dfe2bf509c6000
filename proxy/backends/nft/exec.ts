// Running nft. Everything the backend runs goes through one injected Runner, so tests can
// fake the world, or run the real nft inside a network namespace.
import { execa } from 'execa';
import { RuleApplyError } from '../common/index.ts';

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
    const [cmd, ...rest] = [...prefix, file, ...args];
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

export const transactionErrorCode = 'KPNG_ERR_NFT_TRANSACTION';
export const nftCommand = ['nft', '-f', '-'];

/** The 1-based input line nft blamed: "/dev/stdin:LINE:COL-COL: Error: ...". */
export function blamedLine(stderr: string): number | undefined {
  const m = /^(?:\/dev\/stdin|-):(\d+):\d+(?:-\d+)?: Error:/m.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

/**
 * Sends one transaction to `nft -f -`. nft applies it as one netlink batch: all of it, or
 * (on any error) nothing. Throws RuleApplyError (KPNG_ERR_NFT_TRANSACTION) with the exact
 * text, the exit code, stderr and the offending line.
 */
export async function applyTransaction(run: Runner, text: string, what: string, timeoutMs = 60_000): Promise<void> {
  const r = await run(nftCommand[0]!, nftCommand.slice(1), { input: text, timeoutMs });
  if (r.exitCode === 0) return;
  const line = blamedLine(r.stderr);
  throw new RuleApplyError({
    code: transactionErrorCode,
    command: nftCommand,
    input: text,
    exitCode: r.exitCode,
    stderr: r.stderr,
    ...(line !== undefined && { line }),
    what,
  });
}
