// KPNG's list-valued tilt.env settings are Python list literals of strings:
//   e2e_backend_args=['local', '--api=unix:///k8s/proxy.sock', 'to-nft']
// Items are single- or double-quoted; backslash escapes \\ \' \" \n \t; a trailing comma is fine.

export class ListSyntaxError extends Error {
  /** 1-based column in the list text. */
  readonly column: number;
  constructor(message: string, column: number) {
    super(message);
    this.column = column;
  }
}

const ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t' };

export function parsePyList(text: string): string[] {
  let i = 0;
  const fail = (message: string): never => {
    throw new ListSyntaxError(message, i + 1);
  };
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i] ?? '')) i++;
  };
  skipSpace();
  if (text[i] !== '[') fail(`expected "[" at column ${i + 1}`);
  i++;
  const items: string[] = [];
  for (;;) {
    skipSpace();
    if (text[i] === ']') {
      i++;
      break;
    }
    const quote = text[i];
    if (quote !== "'" && quote !== '"') {
      if (i >= text.length) fail('the list is not closed with "]"');
      fail(`expected a quoted string at column ${i + 1} (list items are 'quoted')`);
    }
    i++;
    let item = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) fail(`the string that starts at column ${i} is not closed with ${quote}`);
      if (c === quote) {
        i++;
        break;
      }
      if (c === '\\') {
        const next = text[i + 1];
        const escaped = next === undefined ? undefined : ESCAPES[next];
        if (escaped === undefined) fail(`unknown escape "\\${next ?? ''}" at column ${i + 1}`);
        item += escaped;
        i += 2;
        continue;
      }
      item += c;
      i++;
    }
    items.push(item);
    skipSpace();
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] === ']') {
      i++;
      break;
    }
    fail(i >= text.length ? 'the list is not closed with "]"' : `expected "," or "]" at column ${i + 1}`);
  }
  skipSpace();
  if (i < text.length) fail(`unexpected text after "]" at column ${i + 1}`);
  return items;
}

/** `['a', 'b']`: single quotes, Python's escapes; what parsePyList reads back unchanged. */
export function formatPyList(items: readonly string[]): string {
  const quoted = items.map(
    (item) => `'${item.replaceAll('\\', '\\\\').replaceAll("'", "\\'").replaceAll('\n', '\\n').replaceAll('\t', '\\t')}'`,
  );
  return `[${quoted.join(', ')}]`;
}
