// Every harness error carries a stable code (KPNG_ERR_*) that users can search for, and
// the exit code a command line should end with. The message starts with the code; the
// codes and their meanings are in ./error-codes.ts.
import { harnessErrorText, type HarnessErrorCode } from './error-codes.ts';

export interface KpngErrorOptions {
  cause?: unknown;
  /** Exit code for a command line that stops on this error (default 1). */
  exitCode?: number;
}

export class KpngError extends Error {
  readonly code: HarnessErrorCode;
  readonly exitCode: number;

  constructor(code: HarnessErrorCode, message: string, options: KpngErrorOptions = {}) {
    super(harnessErrorText(code, message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KpngError';
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
  }
}

export function isKpngError(error: unknown): error is KpngError {
  return error instanceof KpngError;
}
