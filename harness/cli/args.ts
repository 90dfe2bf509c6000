// Command-line options of kpng-harness commands (node:util parseArgs), with usage errors
// that name the option and what it accepts (KPNG_ERR_USAGE, exit 2).
import { parseArgs } from 'node:util';
import { KpngError, closest } from '../config/index.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  default?: string | boolean;
  /** Accepted values of a string option. */
  choices?: readonly string[];
  description: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

export type OptionValues<S extends OptionSpecs> = {
  [K in keyof S]: S[K]['type'] extends 'boolean' ? boolean : S[K]['multiple'] extends true ? string[] : string | undefined;
};

export function usageError(message: string): KpngError {
  return new KpngError('KPNG_ERR_USAGE', message, { exitCode: 2 });
}

export function parseOptions<S extends OptionSpecs>(command: string, args: readonly string[], specs: S): OptionValues<S> {
  const options = Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => [name, { type: spec.type, ...(spec.multiple ? { multiple: true } : {}), ...(spec.default === undefined ? {} : { default: spec.default }) }]),
  );
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: [...args], options: options as never, strict: true, allowPositionals: false }).values as Record<string, unknown>;
  } catch (error) {
    const text = (error as Error).message;
    const unknown = /Unknown option '(--?[^']+)'/.exec(text)?.[1];
    if (unknown !== undefined) {
      const names = Object.keys(specs).map((n) => `--${n}`);
      const near = closest(unknown.split('=')[0] ?? unknown, names);
      throw usageError(`${command}: unknown option ${unknown}${near ? ` (did you mean ${near}?)` : ''}; accepted: ${names.join(', ')}`);
    }
    throw usageError(`${command}: ${text}`);
  }
  for (const [name, spec] of Object.entries(specs)) {
    if (!spec.choices) continue;
    const given = values[name];
    for (const value of Array.isArray(given) ? given : given === undefined ? [] : [given]) {
      if (!spec.choices.includes(String(value))) {
        const near = closest(String(value), spec.choices);
        throw usageError(`${command}: --${name} ${JSON.stringify(value)} is not accepted${near ? ` (did you mean ${near}?)` : ''}; accepted: ${spec.choices.join(', ')}`);
      }
    }
  }
  return values as OptionValues<S>;
}

/** Help text for a command's options. */
export function optionsHelp(specs: OptionSpecs): string {
  return Object.entries(specs)
    .map(([name, spec]) => {
      const value = spec.type === 'string' ? (spec.choices ? ` <${spec.choices.join('|')}>` : ' <value>') : '';
      const fallback = spec.default === undefined || spec.default === false ? '' : ` (default ${String(spec.default)})`;
      return `    --${name}${value}${spec.multiple ? ' (repeatable)' : ''}  ${spec.description}${fallback}`;
    })
    .join('\n');
}
