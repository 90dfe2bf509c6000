// The proxy's one logger: lines on stderr, "LEVEL time component: message key=value...".
// Components and tests pass a Logger in; nothing writes to the console directly.

export type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

export interface LogLine {
  level: Level;
  time: Date;
  component: string;
  msg: string;
  fields: Record<string, unknown>;
}

function formatValue(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === 'string') return /^[\w./:@-]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v);
}

export function formatLine(l: LogLine): string {
  const fields = Object.entries(l.fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}=${formatValue(v)}`)
    .join('');
  return `${l.level.toUpperCase().padEnd(5)} ${l.time.toISOString()} ${l.component}: ${l.msg}${fields}`;
}

export function createLogger(opts: { level?: Level; component?: string; write?: (line: LogLine) => void } = {}): Logger {
  const min = order[opts.level ?? ((process.env.KPNG_LOG_LEVEL as Level | undefined) ?? 'info')] ?? order.info;
  const write = opts.write ?? ((l: LogLine) => process.stderr.write(`${formatLine(l)}\n`));
  const make = (component: string): Logger => {
    const at = (level: Level) => (msg: string, fields: Record<string, unknown> = {}) => {
      if (order[level] >= min) write({ level, time: new Date(), component, msg, fields });
    };
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (c) => make(`${component}/${c}`) };
  };
  return make(opts.component ?? 'kpng');
}

/** A logger that keeps lines in memory, for tests. */
export function memoryLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = createLogger({ level: 'debug', write: (l) => lines.push(l) });
  return Object.assign(logger, { lines });
}
