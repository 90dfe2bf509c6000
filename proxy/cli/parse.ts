// Parsing KPNG's argument pipeline: `kpng <stage> [flags] <stage> [flags] ...`. Pure:
// it knows stages only by their names and flag specs.
import { errorText, type ErrorCode } from '../errors.ts';
import type { FlagSpec, FlagValue, FlagValues } from './flags.ts';

export class UsageError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(errorText(code, message));
    this.code = code;
  }
}

/** A bare word where a flag was expected: most likely a misspelt stage. */
export class UnexpectedArgument extends UsageError {
  readonly arg: string;
  readonly after: string;
  constructor(after: string, arg: string) {
    super('KPNG_ERR_UNKNOWN_STAGE', `unknown stage ${JSON.stringify(arg)} after ${after}`);
    this.arg = arg;
    this.after = after;
  }
}

export interface StageInvocation {
  name: string;
  values: FlagValues;
  help: boolean;
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "250ms", "1.5s", "30s", "1m", "1h", "1m30s" → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const re = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    if (m.index !== consumed) return undefined;
    total += Number(m[1]) * durationUnits[m[2]!]!;
    consumed += m[0].length;
  }
  if (consumed === 0 || consumed !== text.length) return text === '0' ? 0 : undefined;
  return total;
}

function convert(stage: string, spec: FlagSpec, raw: string): FlagValue {
  const bad = (accepted: string) => new UsageError('KPNG_ERR_BAD_FLAG', `${stage} --${spec.name}=${JSON.stringify(raw)}: ${accepted}`);
  switch (spec.type) {
    case 'boolean':
      if (raw === 'true' || raw === '') return true;
      if (raw === 'false') return false;
      throw bad('accepted: true or false');
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw bad('accepted: a number');
      return n;
    }
    case 'duration': {
      const ms = parseDuration(raw);
      if (ms === undefined) throw bad('accepted: a duration such as 500ms, 30s, 1m, 1h');
      return ms;
    }
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
    case 'string':
      if (spec.choices && !spec.choices.includes(raw)) throw bad(`accepted: ${spec.choices.join(', ')}`);
      return raw;
  }
}

/** Parse one stage's flag tokens against its specs. */
export function parseFlags(stage: string, specs: readonly FlagSpec[], tokens: string[]): { values: FlagValues; help: boolean } {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values: FlagValues = {};
  let help = false;
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    if (tok === '--help' || tok === '-h') {
      help = true;
      continue;
    }
    if (!tok.startsWith('--')) {
      throw new UnexpectedArgument(stage, tok);
    }
    const eq = tok.indexOf('=');
    const name = tok.slice(2, eq < 0 ? undefined : eq);
    const spec = byName.get(name);
    if (!spec) {
      const accepted = specs.map((s) => `--${s.name}`).join(', ') || 'no flags';
      throw new UsageError('KPNG_ERR_UNKNOWN_FLAG', `${stage} does not take --${name} (accepted: ${accepted}, --help)`);
    }
    let raw: string;
    if (eq >= 0) raw = tok.slice(eq + 1);
    else if (spec.type === 'boolean') raw = 'true';
    else {
      const next = tokens[i + 1];
      if (next === undefined || next.startsWith('--')) {
        throw new UsageError('KPNG_ERR_BAD_FLAG', `${stage} --${name} needs a value (--${name}=VALUE)`);
      }
      raw = next;
      i++;
    }
    const value = convert(stage, spec, raw);
    const problem = spec.check?.(value);
    if (problem !== undefined) throw new UsageError('KPNG_ERR_BAD_FLAG', `${stage} --${spec.name}=${JSON.stringify(raw)}: ${problem}`);
    const prev = values[name];
    values[name] = spec.type === 'list' && Array.isArray(prev) && Array.isArray(value) ? [...prev, ...value] : value;
  }
  for (const spec of specs) {
    if (values[spec.name] === undefined && spec.default !== undefined) values[spec.name] = spec.default;
  }
  if (!help) {
    for (const spec of specs) {
      if (spec.required && values[spec.name] === undefined) {
        throw new UsageError('KPNG_ERR_MISSING_FLAG', `${stage} needs --${spec.name} (${spec.description})`);
      }
    }
  }
  return { values, help };
}

/** Split argv into stages at the given stage names. */
export function splitStages(argv: string[], isStage: (name: string) => boolean): Array<{ name: string; tokens: string[] }> {
  const out: Array<{ name: string; tokens: string[] }> = [];
  for (const tok of argv) {
    if (!tok.startsWith('-') && isStage(tok)) out.push({ name: tok, tokens: [] });
    else if (out.length === 0) {
      if (tok.startsWith('-')) out.push({ name: '', tokens: [tok] });
      else throw new UsageError('KPNG_ERR_UNKNOWN_STAGE', `unknown stage ${JSON.stringify(tok)}`);
    } else out[out.length - 1]!.tokens.push(tok);
  }
  return out;
}

export function formatHelp(name: string, summary: string, specs: readonly FlagSpec[]): string {
  const lines = [`${name}: ${summary}`, ''];
  if (specs.length === 0) lines.push('  (no flags)');
  for (const s of specs) {
    const dflt = s.default === undefined ? '' : ` (default ${Array.isArray(s.default) ? s.default.join(',') : s.type === 'duration' ? `${String(s.default)}ms` : String(s.default)})`;
    const choices = s.choices ? ` [${s.choices.join('|')}]` : '';
    lines.push(`  --${s.name}${s.type === 'boolean' ? '' : `=${s.type.toUpperCase()}`}${choices}${s.required ? ' (required)' : ''}`);
    lines.push(`      ${s.description}${dflt}`);
  }
  return `${lines.join('\n')}\n`;
}
