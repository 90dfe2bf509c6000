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
}

/** Parsed flag values by name. Durations ("500ms", "30s", "1m", "1h") become milliseconds; lists split on commas. */
export type FlagValues = Record<string, string | number | boolean | string[] | undefined>;

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
