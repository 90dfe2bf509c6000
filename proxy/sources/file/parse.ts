// Reading a snapshot: a multi-document YAML (or JSON) stream of Service, EndpointSlice
// and Node objects, or a `kind: List` as `kubectl get -o yaml` writes it.
import { LineCounter, parseAllDocuments } from 'yaml';

export class SnapshotParseError extends Error {
  readonly code = 'KPNG_ERR_SNAPSHOT_PARSE';
  readonly line: number;
  readonly column: number;
  constructor(source: string, line: number, column: number, detail: string) {
    super(`${source}:${line}:${column}: cannot parse snapshot: ${detail} (accepted: YAML or JSON objects, a multi-document stream, or a kind: List)`);
    this.line = line;
    this.column = column;
  }
}

const listKinds: Record<string, string> = { ServiceList: 'Service', EndpointSliceList: 'EndpointSlice', NodeList: 'Node' };

function flatten(doc: unknown, out: unknown[]): void {
  if (doc === null || doc === undefined) return;
  if (Array.isArray(doc)) {
    for (const d of doc) flatten(d, out);
    return;
  }
  const kind = (doc as { kind?: unknown }).kind;
  const items = (doc as { items?: unknown }).items;
  if (typeof kind === 'string' && (kind === 'List' || kind in listKinds) && Array.isArray(items)) {
    // Typed lists from the API leave `kind` off their items.
    const itemKind = listKinds[kind];
    for (const item of items) {
      if (itemKind && item && typeof item === 'object' && !('kind' in item)) flatten({ kind: itemKind, ...item }, out);
      else flatten(item, out);
    }
    return;
  }
  out.push(doc);
}

/** The objects in a snapshot text; throws SnapshotParseError with line and column. */
export function parseSnapshot(text: string, source = 'snapshot'): unknown[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  if (!Array.isArray(docs)) {
    // An empty stream parses as a single empty document set.
    return [];
  }
  const out: unknown[] = [];
  for (const doc of docs) {
    const err = doc.errors[0];
    if (err) {
      const pos = lineCounter.linePos(err.pos[0]);
      throw new SnapshotParseError(source, pos.line, pos.col, err.message.split('\n')[0] ?? err.message);
    }
    flatten(doc.toJS({ maxAliasCount: 100 }), out);
  }
  return out;
}
