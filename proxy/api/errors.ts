// Errors of the node-local API, each with a stable code (../errors.ts).
import { errorText, type ErrorCode } from '../errors.ts';

export type ApiErrorCode = ErrorCode &
  (
  /** An --api or --listen address that is not unix:///path or tcp://host:port. */
  | 'KPNG_ERR_API_ADDRESS'
  /** TLS options that do not fit together, or files that cannot be read. */
  | 'KPNG_ERR_API_TLS'
  /** The listening socket cannot be created. */
  | 'KPNG_ERR_API_LISTEN'
  /** The peer sent something the protocol does not allow. */
  | 'KPNG_ERR_API_PROTOCOL');

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  constructor(code: ApiErrorCode, message: string) {
    super(errorText(code, message));
    this.code = code;
  }
}
