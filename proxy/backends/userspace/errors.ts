// The error codes only the userspace backend uses (its descriptor's `errors`); with the
// proxy's own table (proxy/errors.ts) they make the one table of codes.
import { errorTextOf, type ErrorTable } from '../../errors.ts';

export const userspaceErrors = {
  KPNG_ERR_USERSPACE_SETUP:
    'the userspace backend cannot start or go on: bad options, no working ip(6)tables of the chosen flavour on this node, or a sync asked of it after stop; accepted: --iptables-mode auto, nft or legacy with a working iptables of it',
  KPNG_ERR_USERSPACE_RESTORE:
    'ip(6)tables-restore refused the redirect rules; the whole sync fails (no service port is left out), the previous rules stay, the offending line is logged, the next sync is full',
} as const satisfies ErrorTable;

export const userspaceErrorText = errorTextOf(userspaceErrors);
