// Every harness error carries a stable code (KPNG_ERR_*) that users can search for, and
// the exit code a command line should end with. The message starts with the code.

export interface KpngErrorOptions {
  cause?: unknown;
  /** Exit code for a command line that stops on this error (default 1). */
  exitCode?: number;
}

export class KpngError extends Error {
  readonly code: string;
  readonly exitCode: number;

  constructor(code: string, message: string, options: KpngErrorOptions = {}) {
    super(`${code}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KpngError';
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
  }
}

export function isKpngError(error: unknown): error is KpngError {
  return error instanceof KpngError;
}
