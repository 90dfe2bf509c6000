// The runtime's errors. Each has a stable code (KPNG_ERR_*, in ../errors.ts) that starts
// its message, so users can search for it, and the message says what was wrong and what
// is accepted.
import { errorText, type ErrorCode } from '../errors.ts';

export type RuntimeErrorCode = ErrorCode &
  (
  | 'KPNG_ERR_BAD_BIND_ADDRESS'
  | 'KPNG_ERR_BAD_NODEPORT_ADDRESSES'
  | 'KPNG_ERR_BAD_SYNC_PERIOD'
  | 'KPNG_ERR_LISTEN'
  | 'KPNG_ERR_SYNC_FAILED'
  | 'KPNG_ERR_RUNNER_STOPPED'
  | 'KPNG_ERR_CONNTRACK');

export class RuntimeError extends Error {
  readonly code: RuntimeErrorCode;
  constructor(code: RuntimeErrorCode, message: string, options?: { cause?: unknown }) {
    super(errorText(code, message), options);
    this.name = 'RuntimeError';
    this.code = code;
  }
}

/** The message of anything thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
