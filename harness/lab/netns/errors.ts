// Errors of the netns lab. Each has a stable code (KPNG_ERR_NETNS_* / KPNG_ERR_PROBE_*).
import { harnessErrorText } from '../../config/error-codes.ts';

/** A command run in (or about) a namespace failed. Carries what was run and what it said. */
export class NetnsExecError extends Error {
  readonly code = 'KPNG_ERR_NETNS_EXEC';
  /** The namespace the command ran in; undefined for commands run in the lab's own namespace (`ip netns add`, ...). */
  readonly namespace: string | undefined;
  /** The command as run inside the namespace, program first. */
  readonly command: readonly string[];
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
  /** What was written to the command's standard input (e.g. an `ip -batch` script or iptables-restore input). */
  readonly input: string | undefined;

  constructor(fields: {
    namespace: string | undefined;
    command: readonly string[];
    exitCode: number | undefined;
    signal?: string | undefined;
    timedOut?: boolean;
    stdout: string;
    stderr: string;
    input?: string | undefined;
    cause?: unknown;
  }) {
    const where = fields.namespace === undefined ? '' : ` in ${fields.namespace}`;
    const how = fields.timedOut
      ? 'timed out'
      : fields.signal !== undefined
        ? `was killed by ${fields.signal}`
        : `exited with ${String(fields.exitCode)}`;
    const said = fields.stderr.trim() || fields.stdout.trim();
    super(harnessErrorText('KPNG_ERR_NETNS_EXEC', `\`${fields.command.join(' ')}\`${where} ${how}${said ? `: ${said}` : ''}`), {
      cause: fields.cause,
    });
    this.name = 'NetnsExecError';
    this.namespace = fields.namespace;
    this.command = fields.command;
    this.exitCode = fields.exitCode;
    this.signal = fields.signal;
    this.timedOut = fields.timedOut ?? false;
    this.stdout = fields.stdout;
    this.stderr = fields.stderr;
    this.input = fields.input;
  }
}

/**
 * How a connection attempt failed:
 * - `refused`: TCP RST or ICMP port unreachable (ECONNREFUSED), what a REJECT rule or a
 *   closed port gives; fast.
 * - `unreachable`: ICMP host/net unreachable or no route (EHOSTUNREACH, ENETUNREACH).
 * - `timeout`: no answer within the time allowed, what a DROP rule gives.
 * - `reset`: the connection was reset after it was established (ECONNRESET, EPIPE).
 * - `error`: anything else (the message says what).
 */
export type ProbeFailure = 'refused' | 'unreachable' | 'timeout' | 'reset' | 'error';

export const PROBE_ERROR_CODES = {
  refused: 'KPNG_ERR_PROBE_REFUSED',
  unreachable: 'KPNG_ERR_PROBE_UNREACHABLE',
  timeout: 'KPNG_ERR_PROBE_TIMEOUT',
  reset: 'KPNG_ERR_PROBE_RESET',
  error: 'KPNG_ERR_PROBE_ERROR',
} as const satisfies Record<ProbeFailure, string>;

/** A probe (`httpGet`, `udpExchange`) got no answer. `kind` says how. */
export class ProbeError extends Error {
  readonly code: (typeof PROBE_ERROR_CODES)[ProbeFailure];
  readonly kind: ProbeFailure;
  readonly namespace: string;
  /** What was probed, e.g. `http://10.244.2.2:8080/` or `udp 10.244.2.2:5353`. */
  readonly target: string;
  /** The system error code, when there was one (ECONNREFUSED, ...). */
  readonly errno: string | undefined;
  /** Time from the start of the attempt to the failure, measured inside the namespace. */
  readonly elapsedMs: number;

  constructor(fields: { kind: ProbeFailure; namespace: string; target: string; errno?: string | undefined; elapsedMs: number; detail?: string }) {
    const code = PROBE_ERROR_CODES[fields.kind];
    const errno = fields.errno ? ` (${fields.errno})` : '';
    const detail = fields.detail ? `: ${fields.detail}` : '';
    super(`${code}: ${fields.target} from ${fields.namespace}: ${fields.kind}${errno} after ${fields.elapsedMs} ms${detail}`);
    this.name = 'ProbeError';
    this.code = code;
    this.kind = fields.kind;
    this.namespace = fields.namespace;
    this.target = fields.target;
    this.errno = fields.errno;
    this.elapsedMs = fields.elapsedMs;
  }
}
