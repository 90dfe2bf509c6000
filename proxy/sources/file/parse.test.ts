import { describe, expect, it } from 'vitest';
import { decodeSnapshot, parseSnapshot, requireSomeKind, SnapshotError, SnapshotParseError } from './parse.ts';

const names = (objs: unknown[]) => objs.map((o) => `${(o as { kind: string }).kind}/${(o as { metadata: { name: string } }).metadata.name}`);

describe('snapshot formats', () => {
  it('reads a multi-document YAML stream', () => {
    expect(names(parseSnapshot('kind: Service\nmetadata: {name: a}\n---\nkind: Node\nmetadata: {name: n}\n'))).toEqual(['Service/a', 'Node/n']);
  });
  it('reads a kind: List as kubectl get -o yaml writes it', () => {
    const text = 'apiVersion: v1\nkind: List\nitems:\n- kind: Service\n  metadata: {name: a}\n- kind: EndpointSlice\n  metadata: {name: s}\n';
    expect(names(parseSnapshot(text))).toEqual(['Service/a', 'EndpointSlice/s']);
  });
  it('gives items of a typed list (ServiceList) their kind', () => {
    expect(names(parseSnapshot('{"kind":"ServiceList","items":[{"metadata":{"name":"a"}}]}'))).toEqual(['Service/a']);
  });
  it('reads JSON', () => {
    expect(names(parseSnapshot('{"kind":"Node","metadata":{"name":"n"}}'))).toEqual(['Node/n']);
  });
  it('takes an explicitly empty List (what to-file writes for an empty cluster) or JSON [] as no objects', () => {
    expect(parseSnapshot('apiVersion: v1\nkind: List\nitems: []\n')).toEqual([]);
    expect(parseSnapshot('{"kind":"ServiceList","items":[]}')).toEqual([]);
    expect(parseSnapshot('[]')).toEqual([]);
  });
  it('skips separators and comments between documents', () => {
    expect(names(parseSnapshot('---\n# a comment\n---\nkind: Node\nmetadata: {name: n}\n---\n'))).toEqual(['Node/n']);
  });
  it('reports the line and column of a syntax error', () => {
    try {
      parseSnapshot('kind: Service\nmetadata:\n\tname: a\n', 'x.yaml');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SnapshotParseError);
      const err = e as SnapshotParseError;
      expect([err.line, err.column]).toEqual([3, 1]);
      expect(err.detail).toMatch(/^x\.yaml:3:1: cannot parse snapshot: Tabs are not allowed/);
    }
  });
});

/** The SnapshotError parseSnapshot (or decodeSnapshot) throws for text. */
function refusal(f: () => unknown): SnapshotError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SnapshotError);
    return e as SnapshotError;
  }
  return expect.unreachable('accepted');
}

describe('what is not a snapshot of objects is refused, naming the file and what is accepted', () => {
  const acceptedText = /accepted: UTF-8 YAML or JSON holding Kubernetes objects \(each with kind and metadata\).*kind: List with items: \[\]/;

  it.each([
    ['an empty file', ''],
    ['only whitespace', '\n  \n'],
    ['only separators', '---\n---\n'],
    ['only a comment', '# nothing yet\n'],
  ])('%s: KPNG_ERR_SNAPSHOT_EMPTY (the moment between a truncate and a write)', (_what, text) => {
    const err = refusal(() => parseSnapshot(text, 'state.yaml'));
    expect(err.code).toBe('KPNG_ERR_SNAPSHOT_EMPTY');
    expect(err.detail).toMatch(/^state\.yaml: has no document/);
    expect(err.message).toMatch(acceptedText);
  });

  it.each([
    ['a bare word', 'garbage', /document 1 \(line 1\) is the text "garbage", not an object/],
    ['a number', '42\n', /document 1 \(line 1\) is the number 42/],
    ['a YAML null', '~\n', /document 1 \(line 1\) is empty/],
    ['a list of words', '- a\n- b\n', /document 1 \(line 1\)\[0\] is the text "a"/],
    ['a JSON list of numbers', '[1, 2]', /the document\[0\] is the number 1/],
    ['a mapping without kind', 'foo: bar\n', /document 1 \(line 1\) is a mapping without a kind/],
    ['an object without metadata (cut short)', 'kind: Service\n', /document 1 \(line 1\) is a Service without a metadata mapping/],
    ['a List without items (cut short)', 'apiVersion: v1\nkind: List\n', /is a List whose items is empty, not a sequence/],
    ['a List with a word among its items', 'kind: List\nitems:\n- kind: Node\n  metadata: {name: n}\n- oops\n', /document 1 \(line 1\) items\[1\] is the text "oops"/],
    ['a good document followed by a bad one', 'kind: Node\nmetadata: {name: n}\n---\njunk\n', /document 2 \(line 4\) is the text "junk"/],
    ['a JSON string', '"kind"', /the text "kind"/],
  ])('%s: KPNG_ERR_SNAPSHOT_NOT_OBJECTS, saying where', (_what, text, where) => {
    const err = refusal(() => parseSnapshot(text, 'state.yaml'));
    expect(err.code).toBe('KPNG_ERR_SNAPSHOT_NOT_OBJECTS');
    expect(err.detail).toMatch(/^state\.yaml: /);
    expect(err.message).toMatch(where);
    expect(err.message).toMatch(acceptedText);
  });

  it('objects of which none is of a kind the proxy reads (the wrong file): KPNG_ERR_SNAPSHOT_NOT_OBJECTS naming what was found', () => {
    const kinds = ['Service', 'EndpointSlice', 'Node'];
    const manifest = parseSnapshot('kind: Deployment\nmetadata: {name: web}\n---\nkind: ConfigMap\nmetadata: {name: conf}\n', 'app.yaml');
    const err = refusal(() => requireSomeKind(manifest, kinds, 'app.yaml'));
    expect(err.code).toBe('KPNG_ERR_SNAPSHOT_NOT_OBJECTS');
    expect(err.detail).toMatch(/^app\.yaml: 2 object\(s\), none a Service, EndpointSlice, Node \(found Deployment, ConfigMap\)/);
    expect(err.message).toMatch(acceptedText);
    // One readable object among others, or no object at all, is a snapshot.
    expect(() => requireSomeKind([...manifest, { kind: 'Node', metadata: { name: 'n' } }], kinds)).not.toThrow();
    expect(() => requireSomeKind([], kinds)).not.toThrow();
  });

  it('a document that expands aliases without bound ("billion laughs") is refused, naming the file, the document and the limit', () => {
    const laughs = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i <= 6; i++) laughs.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
    const text = `kind: Service\nmetadata: {name: a}\n---\nkind: ConfigMap\nmetadata: {name: laughs}\ndata:\n${laughs.map((l) => `  ${l}`).join('\n')}\n`;
    let err: unknown;
    try {
      parseSnapshot(text, '/etc/kpng/state.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SnapshotError);
    expect((err as SnapshotError).code).toBe('KPNG_ERR_SNAPSHOT_PARSE');
    expect((err as SnapshotError).detail).toMatch(/^\/etc\/kpng\/state\.yaml: document 2 \(line 4\): cannot expand its YAML aliases: .*at most 100 alias expansions/);
  });
  it('a truncated JSON snapshot is a parse error with its place', () => {
    const err = refusal(() => parseSnapshot('{"kind":"List","items":[{"kind":"Node","metadata":{"na', 'state.json'));
    expect(err.code).toBe('KPNG_ERR_SNAPSHOT_PARSE');
    expect(err.detail).toMatch(/^state\.json:1:\d+: cannot parse snapshot/);
  });
});

describe('decoding a snapshot', () => {
  const utf8 = (s: string) => new TextEncoder().encode(s);
  const utf16le = (s: string, bom: boolean) => {
    const out = new Uint8Array((bom ? 2 : 0) + s.length * 2);
    if (bom) out.set([0xff, 0xfe]);
    for (let i = 0; i < s.length; i++) out[(bom ? 2 : 0) + i * 2] = s.charCodeAt(i);
    return out;
  };
  const node = 'kind: Node\nmetadata: {name: n}\n';

  it('reads UTF-8, with or without a byte order mark', () => {
    expect(names(parseSnapshot(decodeSnapshot(utf8(node))))).toEqual(['Node/n']);
    expect(names(parseSnapshot(decodeSnapshot(new Uint8Array([0xef, 0xbb, 0xbf, ...utf8(node)]))))).toEqual(['Node/n']);
  });
  it.each([
    ['UTF-16 with a byte order mark', utf16le(node, true), /starts with a UTF-16 byte order mark, not UTF-8 text/],
    ['UTF-16 big-endian with a byte order mark', new Uint8Array([0xfe, 0xff, 0, 0x6b]), /starts with a UTF-16 byte order mark/],
    ['UTF-16 without a byte order mark', utf16le(node, false), /has a NUL byte at offset 1 \(UTF-16 without a byte order mark, or binary data\)/],
    ['bytes that are not UTF-8', new Uint8Array([0x6b, 0x69, 0xc3, 0x28, 0xff]), /has byte sequences that are not UTF-8/],
  ])('refuses %s with KPNG_ERR_SNAPSHOT_ENCODING', (_what, bytes, why) => {
    const err = refusal(() => decodeSnapshot(bytes, 'state.yaml'));
    expect(err.code).toBe('KPNG_ERR_SNAPSHOT_ENCODING');
    expect(err.detail).toMatch(/^state\.yaml: /);
    expect(err.message).toMatch(why);
    expect(err.message).toMatch(/accepted: UTF-8 YAML or JSON/);
  });
});
