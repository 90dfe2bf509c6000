// The one error type of rule appliers: a kernel tool (iptables-restore, nft -f, ...)
// rejected our input. It carries the exact input, so the failure can be replayed.
import { errorTextOf, type ErrorCode, type ErrorTable } from '../../errors.ts';

/** A code of the proxy's table or of a backend's own (its descriptor's `errors`). */
export type RuleApplyErrorCode = ErrorCode | keyof ErrorTable;

/** The message builder for a code of any of those tables. */
const ruleErrorText = errorTextOf<ErrorTable>({});

export interface RuleApplyErrorFields {
  /** Stable, searchable code, e.g. KPNG_ERR_IPTABLES_RESTORE (or a backend's own, e.g. KPNG_ERR_IPVSADM). */
  code: RuleApplyErrorCode;
  /** The command line that ran, e.g. ["iptables-nft-restore", "--noflush", "--wait=5"]. */
  command: string[];
  /** Exactly what was written to the tool's standard input. */
  input: string;
  exitCode: number | undefined;
  stderr: string;
  /** 1-based line of `input` the tool blamed, when it said so. */
  line?: number;
  /** What is being applied, for the message: "IPv4", "IPv6 cleanup", ... */
  what?: string;
}

export class RuleApplyError extends Error {
  readonly code: RuleApplyErrorCode;
  readonly command: string[];
  readonly input: string;
  readonly exitCode: number | undefined;
  readonly stderr: string;
  readonly line: number | undefined;
  /** The offending line itself, when `line` is known. */
  readonly lineText: string | undefined;

  constructor(f: RuleApplyErrorFields) {
    const lines = f.input.split('\n');
    const lineText = f.line !== undefined ? lines[f.line - 1] : undefined;
    const where = f.line !== undefined ? ` at input line ${f.line}${lineText !== undefined ? `: ${lineText}` : ''}` : '';
    const tool = f.command[0] ?? 'tool';
    const why = f.stderr.trim().split('\n').find((l) => l.trim() !== '') ?? `exit code ${f.exitCode ?? 'unknown'}`;
    super(ruleErrorText(f.code, `${tool} rejected the ${f.what ? `${f.what} ` : ''}rules${where} (${why})`));
    this.name = 'RuleApplyError';
    this.code = f.code;
    this.command = f.command;
    this.input = f.input;
    this.exitCode = f.exitCode;
    this.stderr = f.stderr;
    this.line = f.line;
    this.lineText = lineText;
  }

  /** The blamed line with `context` lines either side, numbered, for logs. */
  excerpt(context = 3): string {
    if (this.line === undefined) return '';
    const lines = this.input.split('\n');
    const from = Math.max(1, this.line - context);
    const to = Math.min(lines.length, this.line + context);
    const out: string[] = [];
    for (let n = from; n <= to; n++) out.push(`${n === this.line ? '>' : ' '}${String(n).padStart(6)} ${lines[n - 1]}`);
    return out.join('\n');
  }
}
