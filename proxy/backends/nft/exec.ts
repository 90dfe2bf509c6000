// Sending transactions to `nft -f -`, and the backend's errors.
import { errorText, type ErrorCode } from '../../errors.ts';
import { RuleApplyError, type Runner } from '../common/index.ts';

export const errNftTransaction = 'KPNG_ERR_NFT_TRANSACTION' satisfies ErrorCode;
export const errNftSetup = 'KPNG_ERR_NFT_SETUP' satisfies ErrorCode;
export const nftCommand = ['nft', '-f', '-'];

/** The backend cannot start: bad options, or nft does not work on this node. */
export class NftSetupError extends Error {
  readonly code = errNftSetup;
  constructor(message: string) {
    super(errorText(errNftSetup, message));
    this.name = 'NftSetupError';
  }
}

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
export async function applyTransaction(run: Runner, text: string, what: string, timeoutMs = 120_000): Promise<void> {
  const r = await run(nftCommand[0]!, nftCommand.slice(1), { input: text, timeoutMs });
  if (r.exitCode === 0) return;
  const line = blamedLine(r.stderr);
  throw new RuleApplyError({
    code: errNftTransaction,
    command: nftCommand,
    input: text,
    exitCode: r.exitCode,
    stderr: r.stderr,
    ...(line !== undefined && { line }),
    what,
  });
}
