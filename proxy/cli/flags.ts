// How a pipeline stage declares its flags. The CLI parses `--name=value` / `--name value`
// / `--flag` against these and rejects anything else, naming what is accepted.

export type FlagType = 'string' | 'boolean' | 'number' | 'duration' | 'list';

export interface FlagSpec {
  name: string;
  type: FlagType;
  description: string;
  /** Shown in --help and used when the flag is absent. Durations are milliseconds. */
  default?: string | number | boolean | string[];
  /** Accepted values for a string flag. */
  choices?: readonly string[];
  required?: boolean;
  /**
   * Checks a given value (after conversion) when the command line is parsed, so that a
   * bad one exits 2 like an unknown flag: returns what is wrong and what is accepted
   * (e.g. "accepted: an integer 0-31"), or undefined when the value is good.
   */
  check?: (value: FlagValue) => string | undefined;
}

export type FlagValue = string | number | boolean | string[];

/** Parsed flag values by name. Durations ("500ms", "30s", "1m", "1h") become milliseconds; lists split on commas. */
export type FlagValues = Record<string, FlagValue | undefined>;

/**
 * A shared flag (declared once, by its owner) as one stage documents it: same name, type,
 * default and check, its own description (e.g. what an empty value means for this backend).
 */
export function described(flag: FlagSpec, description: string): FlagSpec {
  return { ...flag, description };
}

/**
 * A check from a parser that throws: the thrown message without its code and without the
 * leading "--flag=value:" it repeats, or undefined when the parser accepts the value.
 */
export function checkWith(parse: (value: FlagValue) => unknown): (value: FlagValue) => string | undefined {
  return (value) => {
    try {
      parse(value);
      return undefined;
    } catch (e) {
      return (e as Error).message.replace(/^KPNG_ERR_\w+: /, '').replace(/^--[\w-]+(=("[^"]*"|\S*))?: /, '');
    }
  };
}

/** A duration that must be greater than 0. */
export function positiveDuration(example: string): (value: FlagValue) => string | undefined {
  return (value) => (typeof value === 'number' && value > 0 ? undefined : `accepted: a duration greater than 0, such as ${example}`);
}

/** A string flag that may be absent but, when given, is not empty. */
export function nonEmpty(what: string): (value: FlagValue) => string | undefined {
  return (value) => (value === '' ? `accepted: ${what} (the value is empty)` : undefined);
}

export function flagString(v: FlagValues, name: string): string | undefined {
  const x = v[name];
  return typeof x === 'string' ? x : undefined;
}

export function flagNumber(v: FlagValues, name: string): number | undefined {
  const x = v[name];
  return typeof x === 'number' ? x : undefined;
}

export function flagBoolean(v: FlagValues, name: string): boolean {
  return v[name] === true;
}

export function flagList(v: FlagValues, name: string): string[] {
  const x = v[name];
  return Array.isArray(x) ? x : [];
}
