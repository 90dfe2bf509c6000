// The thread snapshots are decoded and parsed in (SnapshotParser in read-snapshot.ts starts
// it), so a large or slow parse neither blocks the health servers' event loop nor, when it
// runs out of its heap, takes the process with it. Objects go back in batches: each batch
// is a message of its own, and the main thread serves other events between them.
import { parentPort } from 'node:worker_threads';
import type { ErrorCode } from '../../errors.ts';
import { decodeSnapshot, parseSnapshot, SnapshotError } from './parse.ts';

export interface ParseRequest {
  bytes: Uint8Array;
  source: string;
  batch: number;
}

export type ParseReply = { objects: unknown[] } | { done: number } | { error: { code: ErrorCode; message: string } };

const port = parentPort!;
const reply = (r: ParseReply) => port.postMessage(r);
port.on('message', ({ bytes, source, batch }: ParseRequest) => {
  let objects: unknown[];
  try {
    objects = parseSnapshot(decodeSnapshot(bytes, source), source);
  } catch (e) {
    const code = e instanceof SnapshotError ? e.code : 'KPNG_ERR_SNAPSHOT_PARSE';
    reply({ error: { code, message: e instanceof SnapshotError ? e.detail : (e as Error).message } });
    return;
  }
  for (let i = 0; i < objects.length; i += batch) reply({ objects: objects.slice(i, i + batch) });
  reply({ done: objects.length });
});
