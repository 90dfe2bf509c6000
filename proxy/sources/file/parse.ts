// Reading a snapshot: a multi-document YAML (or JSON) stream of Service, EndpointSlice
// and Node objects, or a `kind: List` as `kubectl get -o yaml` writes it.
//
// A snapshot replaces the whole cluster state, so only text that is plainly a list of
// objects may do that. Refused (the caller keeps its last good state):
// - bytes that are not UTF-8 text (UTF-16 with or without a byte order mark, binary);
// - a file with no document at all (empty, only `---` or comments): that is what a reader
//   sees between a writer's truncate and its write, and applying it would remove every
//   Service for that moment. Zero objects is said explicitly: `kind: List` with `items: []`
//   (what to-file writes for an empty cluster) or a JSON `[]`;
// - a document or list item that is not a mapping with a `kind` and a `metadata` mapping
//   (a bare word, a number, a list of strings, a List without `items`, an object cut
//   short before its metadata).
// - objects of which none is of a kind the proxy reads (a Deployment's manifest): most
//   likely the wrong file (requireSomeKind).
// What each object says (names, ports, addresses) is the model's to check, one object at
// a time. A file cut exactly between two objects cannot be told from a smaller cluster:
// writers replace the file by rename, as to-file does.
import { isScalar, LineCounter, parseAllDocuments } from 'yaml';
import { errorText, type ErrorCode } from '../../errors.ts';

const accepted =
  'accepted: UTF-8 YAML or JSON holding Kubernetes objects (each with kind and metadata) as one or more documents or as a kind: List; no objects at all is a kind: List with items: []';

export class SnapshotError extends Error {
  readonly code: ErrorCode;
  /** The message without its code: the file, what is wrong with it, what is accepted. */
  readonly detail: string;
  constructor(code: ErrorCode, detail: string) {
    super(errorText(code, detail));
    this.code = code;
    this.detail = detail;
  }
}

export class SnapshotParseError extends SnapshotError {
  readonly line: number;
  readonly column: number;
  constructor(source: string, line: number, column: number, detail: string) {
    super('KPNG_ERR_SNAPSHOT_PARSE', `${source}:${line}:${column}: cannot parse snapshot: ${detail} (${accepted})`);
    this.line = line;
    this.column = column;
  }
}

/** The snapshot's bytes as text; throws KPNG_ERR_SNAPSHOT_ENCODING unless they are UTF-8 (a UTF-8 byte order mark is dropped). */
export function decodeSnapshot(bytes: Uint8Array, source = 'snapshot'): string {
  const refuse = (what: string) => new SnapshotError('KPNG_ERR_SNAPSHOT_ENCODING', `${source}: ${what}, not UTF-8 text (${accepted})`);
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw refuse('starts with a UTF-16 byte order mark');
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw refuse(`has a NUL byte at offset ${nul} (UTF-16 without a byte order mark, or binary data)`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw refuse('has byte sequences that are not UTF-8');
  }
}

const listKinds: Record<string, string> = { ServiceList: 'Service', EndpointSliceList: 'EndpointSlice', NodeList: 'Node' };

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'empty';
  if (Array.isArray(v)) return 'a sequence';
  if (typeof v === 'string') return `the text ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (!isMapping(v)) return `the ${typeof v} ${String(v)}`;
  if (typeof v.kind !== 'string' || v.kind === '') return 'a mapping without a kind';
  return `a ${v.kind} without a metadata mapping`;
}

/** Where a value is, for messages: "document 2 (line 7)", "document 1 (line 1) items[3]". */
type Place = string;

function notObject(source: string, place: Place, v: unknown): SnapshotError {
  return new SnapshotError('KPNG_ERR_SNAPSHOT_NOT_OBJECTS', `${source}: ${place} is ${describe(v)}, not an object (${accepted})`);
}

/** Append the objects of one document (or list item) to out; throws when it is not objects. */
function collect(v: unknown, source: string, place: Place, out: unknown[]): void {
  if (Array.isArray(v)) {
    v.forEach((item, i) => collect(item, source, `${place}[${i}]`, out));
    return;
  }
  if (!isMapping(v)) throw notObject(source, place, v);
  const kind = v.kind;
  if (typeof kind === 'string' && (kind === 'List' || kind in listKinds)) {
    const items = v.items;
    if (!Array.isArray(items)) {
      throw new SnapshotError('KPNG_ERR_SNAPSHOT_NOT_OBJECTS', `${source}: ${place} is a ${kind} whose items is ${describe(items)}, not a sequence (${accepted})`);
    }
    // Typed lists from the API leave `kind` off their items.
    const itemKind = listKinds[kind];
    items.forEach((item, i) => {
      const typed = itemKind && isMapping(item) && !('kind' in item) ? { kind: itemKind, ...item } : item;
      collect(typed, source, `${place} items[${i}]`, out);
    });
    return;
  }
  if (typeof kind !== 'string' || kind === '' || !isMapping(v.metadata)) throw notObject(source, place, v);
  out.push(v);
}

/** A JSON snapshot parses a hundred times faster as JSON than as YAML; anything else goes to the YAML parser (which also places errors). */
function parseJSON(text: string): { value: unknown } | undefined {
  if (!/^\s*[[{]/.test(text)) return undefined;
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

/** How many alias expansions a document may make before it is refused. */
const aliasCountMax = 100;

/**
 * The objects in a snapshot text. Throws SnapshotParseError (KPNG_ERR_SNAPSHOT_PARSE,
 * with line and column) for a syntax error, SnapshotError KPNG_ERR_SNAPSHOT_EMPTY for no
 * document at all, and KPNG_ERR_SNAPSHOT_NOT_OBJECTS for anything but objects.
 */
export function parseSnapshot(text: string, source = 'snapshot'): unknown[] {
  const out: unknown[] = [];
  const json = parseJSON(text);
  if (json) {
    collect(json.value, source, 'the document', out);
    return out;
  }
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  let documents = 0;
  for (const [i, doc] of (Array.isArray(docs) ? docs : []).entries()) {
    const err = doc.errors[0];
    if (err) {
      const pos = lineCounter.linePos(err.pos[0]);
      throw new SnapshotParseError(source, pos.line, pos.col, err.message.split('\n')[0] ?? err.message);
    }
    // A separator or a comment alone is no document (an explicit `~` or `null` is one).
    const contents = doc.contents;
    if (contents === null || (isScalar(contents) && contents.value === null && contents.range[0] === contents.range[1])) continue;
    documents++;
    const line = lineCounter.linePos(contents.range[0]).line;
    const place = `document ${i + 1} (line ${line})`;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: aliasCountMax });
    } catch (e) {
      // The yaml library's own limit on alias expansion (a "billion laughs" document).
      throw new SnapshotError('KPNG_ERR_SNAPSHOT_PARSE', `${source}: ${place}: cannot expand its YAML aliases: ${(e as Error).message} (at most ${aliasCountMax} alias expansions; ${accepted})`);
    }
    collect(value, source, place, out);
  }
  if (documents === 0) {
    throw new SnapshotError('KPNG_ERR_SNAPSHOT_EMPTY', `${source}: has no document (empty, or only separators and comments), as a file does in the middle of being written (${accepted})`);
  }
  return out;
}

/**
 * Throws KPNG_ERR_SNAPSHOT_NOT_OBJECTS when there are objects but none of these kinds: such
 * a file (a Deployment's manifest, a ConfigMap) is most likely not the snapshot meant, and
 * would remove every Service.
 */
export function requireSomeKind(objects: unknown[], kinds: readonly string[], source = 'snapshot'): void {
  if (objects.length === 0) return;
  const found = new Set<string>();
  for (const o of objects) {
    const kind = (o as { kind: string }).kind;
    if (kinds.includes(kind)) return;
    found.add(kind);
  }
  throw new SnapshotError(
    'KPNG_ERR_SNAPSHOT_NOT_OBJECTS',
    `${source}: ${objects.length} object(s), none a ${kinds.join(', ')} (found ${[...found].slice(0, 5).join(', ')}) (${accepted})`,
  );
}
