// A reader for the XML that test reporters write (JUnit): elements, attributes, text,
// CDATA, comments, the five named entities and numeric character references. No DTDs,
// no namespaces beyond keeping prefixed names as they are. Errors name the line.
import { KpngError } from '../config/index.ts';

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** The element's own text (CDATA included), entities decoded; children's text not included. */
  text: string;
}

const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;

export function parseXml(source: string, file = 'XML'): XmlElement {
  let at = 0;
  const lineAt = (index: number) => source.slice(0, index).split('\n').length;
  const fail = (why: string, index = at): never => {
    throw new KpngError('KPNG_ERR_XML', `${file}:${lineAt(index)}: ${why}`);
  };
  const decode = (text: string, start: number): string =>
    text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z]+);|&/g, (whole, ref: string | undefined) => {
      if (ref === undefined) return fail('a bare "&" (write &amp;)', start);
      if (ref.startsWith('#x')) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
      if (ref.startsWith('#')) return String.fromCodePoint(Number.parseInt(ref.slice(1), 10));
      const named = NAMED[ref];
      return named ?? fail(`unknown entity ${whole}`, start);
    });
  const skipSpace = () => {
    while (at < source.length && /\s/.test(source[at] ?? '')) at++;
  };
  const readName = (): string => {
    NAME.lastIndex = at;
    const match = NAME.exec(source);
    if (!match) return fail(`expected a name, found ${JSON.stringify(source.slice(at, at + 10))}`);
    at += match[0].length;
    return match[0];
  };
  const skipUntil = (end: string, what: string) => {
    const found = source.indexOf(end, at);
    if (found < 0) fail(`${what} is not closed (no ${JSON.stringify(end)})`);
    at = found + end.length;
  };
  /** Comments, processing instructions and a DOCTYPE between elements. */
  const skipMisc = () => {
    for (;;) {
      skipSpace();
      if (source.startsWith('<!--', at)) skipUntil('-->', 'a comment');
      else if (source.startsWith('<?', at)) skipUntil('?>', 'a processing instruction');
      else if (source.startsWith('<!DOCTYPE', at)) skipUntil('>', 'a DOCTYPE');
      else return;
    }
  };

  const readElement = (): XmlElement => {
    if (source[at] !== '<') fail('expected an element');
    at++;
    const name = readName();
    const attributes: Record<string, string> = {};
    for (;;) {
      skipSpace();
      if (source.startsWith('/>', at)) {
        at += 2;
        return { name, attributes, children: [], text: '' };
      }
      if (source[at] === '>') {
        at++;
        break;
      }
      const attribute = readName();
      skipSpace();
      if (source[at] !== '=') fail(`attribute ${attribute} of <${name}> has no value`);
      at++;
      skipSpace();
      const quote = source[at];
      if (quote !== '"' && quote !== "'") return fail(`the value of ${attribute} is not quoted`);
      const end = source.indexOf(quote, at + 1);
      if (end < 0) fail(`the value of ${attribute} is not closed`);
      attributes[attribute] = decode(source.slice(at + 1, end), at).replace(/[\t\n\r]/g, ' ');
      at = end + 1;
    }
    const children: XmlElement[] = [];
    let text = '';
    for (;;) {
      if (at >= source.length) fail(`<${name}> is not closed`);
      if (source.startsWith('</', at)) {
        at += 2;
        const closing = readName();
        if (closing !== name) fail(`</${closing}> closes <${name}>`);
        skipSpace();
        if (source[at] !== '>') fail(`</${closing} is not closed`);
        at++;
        return { name, attributes, children, text };
      }
      if (source.startsWith('<![CDATA[', at)) {
        const end = source.indexOf(']]>', at);
        if (end < 0) fail('a CDATA section is not closed');
        text += source.slice(at + 9, end);
        at = end + 3;
      } else if (source.startsWith('<!--', at)) {
        skipUntil('-->', 'a comment');
      } else if (source.startsWith('<?', at)) {
        skipUntil('?>', 'a processing instruction');
      } else if (source[at] === '<') {
        children.push(readElement());
      } else {
        const next = source.indexOf('<', at);
        const end = next < 0 ? source.length : next;
        text += decode(source.slice(at, end), at);
        at = end;
      }
    }
  };

  if (source.charCodeAt(0) === 0xfeff) at = 1;
  skipMisc();
  if (at >= source.length) fail('no root element');
  const root = readElement();
  skipMisc();
  if (at < source.length) fail('text after the root element');
  return root;
}
