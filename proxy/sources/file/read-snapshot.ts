// Reading a snapshot file within limits: at most maxBytes (checked with stat before
// reading and again while reading, as the file may grow), decoded and parsed in a worker
// thread with a heap of its own. Every refusal is a SnapshotError naming the file.
import { open } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { SnapshotError } from './parse.ts';
import type { ParseReply, ParseRequest } from './parse-worker.ts';

/** The file source's default --max-bytes: 64 MiB, about 250,000 Services as JSON. */
export const defaultMaxBytes = 64 * 1024 * 1024;

/**
 * The parse thread's heap. JSON takes about twice its size while parsing; YAML about 75
 * times (measured with the yaml package), so YAML above ~13 MB is refused when this runs
 * out, rather than the whole process running out.
 */
export const defaultParseHeapMb = 1024;

const readChunk = 1024 * 1024;
/**
 * After parsing a larger snapshot the thread is ended: an idle thread keeps the heap its
 * parse grew (250,000 Services as JSON: 270 MB of RSS, measured), and starting a new one
 * costs far less than such a parse.
 */
export const keepThreadBelowBytes = 256 * 1024;
/** Objects per message from the parse thread: each message is a short task on the main thread. */
const batch = 1000;

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function tooLarge(file: string, what: string, maxBytes: number): SnapshotError {
  return new SnapshotError(
    'KPNG_ERR_SNAPSHOT_TOO_LARGE',
    `${file}: ${what}, more than the file source's --max-bytes=${maxBytes} (${mib(maxBytes)}) (accepted: a snapshot of at most --max-bytes; raise it for a larger cluster)`,
  );
}

/** The file's bytes; throws KPNG_ERR_SNAPSHOT_TOO_LARGE beyond maxBytes, or the file system's error (ENOENT, EACCES, ...). */
export async function readSnapshotFile(file: string, maxBytes: number): Promise<Uint8Array> {
  const fh = await open(file, 'r');
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new SnapshotError('KPNG_ERR_SNAPSHOT_READ', `${file}: is a directory (accepted: a file)`);
    if (st.size > maxBytes) throw tooLarge(file, `${st.size} bytes (${mib(st.size)})`, maxBytes);
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      // Never more than one byte past the limit: that byte is enough to refuse.
      const chunk = new Uint8Array(Math.min(readChunk, maxBytes + 1 - total));
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw tooLarge(file, `grew past ${maxBytes} bytes while being read`, maxBytes);
      chunks.push(chunk.subarray(0, bytesRead));
    }
    // A buffer of its own (not a pooled slice), so it can be handed to the parse thread.
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.length;
    }
    return bytes;
  } finally {
    await fh.close();
  }
}

const workerFile = new URL(import.meta.url.endsWith('.ts') ? './parse-worker.ts' : './parse-worker.js', import.meta.url);

interface Pending {
  source: string;
  size: number;
  objects: unknown[];
  resolve(objects: unknown[]): void;
  reject(e: Error): void;
}

/**
 * decodeSnapshot + parseSnapshot in a worker thread with a heap of its own, one snapshot at
 * a time. The thread is started on first use and kept after small snapshots (a re-read
 * costs no start-up), ended after larger ones; it keeps the process alive only while it
 * parses. Running out of heap ends the thread, not the process: that parse is refused and
 * the next one starts a new thread.
 */
export class SnapshotParser {
  private readonly heapMb: number;
  private worker: Worker | undefined;
  private pending: Pending | undefined;

  constructor(heapMb = defaultParseHeapMb) {
    this.heapMb = heapMb;
  }

  /** The objects in bytes (handed over to the thread, not copied); rejects with a SnapshotError. */
  parse(bytes: Uint8Array, source: string): Promise<unknown[]> {
    if (this.pending) return Promise.reject(new Error(`${source}: a snapshot is already being parsed`));
    const worker = (this.worker ??= this.start());
    return new Promise((resolve, reject) => {
      this.pending = { source, size: bytes.length, objects: [], resolve, reject };
      worker.ref();
      const request: ParseRequest = { bytes, source, batch };
      worker.postMessage(request, [bytes.buffer as ArrayBuffer]);
    });
  }

  /** Whether a thread is there (between parses: only after a small snapshot). */
  get threadRunning(): boolean {
    return this.worker !== undefined;
  }

  /** Stop the thread; a parse under way is rejected with reason. */
  async close(reason: Error = new Error('the snapshot parser was closed')): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.settle((p) => p.reject(reason));
    await worker?.terminate();
  }

  private settle(f: (p: Pending) => void): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    this.worker?.unref();
    if (p.size >= keepThreadBelowBytes) void this.close();
    f(p);
  }

  private start(): Worker {
    const worker = new Worker(workerFile, { resourceLimits: { maxOldGenerationSizeMb: this.heapMb } });
    worker.unref();
    // Events of a thread already let go (closed, or ended by a larger snapshot) concern no parse.
    worker.on('message', (m: ParseReply) => {
      if (this.worker !== worker) return;
      if ('objects' in m) {
        const p = this.pending;
        if (p) for (const o of m.objects) p.objects.push(o);
      } else if ('done' in m) this.settle((p) => p.resolve(p.objects));
      else this.settle((p) => p.reject(new SnapshotError(m.error.code, m.error.message)));
    });
    worker.on('error', (e: Error & { code?: string }) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.settle((p) =>
        p.reject(
          e.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? new SnapshotError(
                'KPNG_ERR_SNAPSHOT_TOO_LARGE',
                `${p.source}: parsing its ${p.size} bytes (${mib(p.size)}) needed more than the parser's ${this.heapMb} MiB heap (accepted: a smaller snapshot; as JSON it parses in a small part of the memory YAML needs)`,
              )
            : new SnapshotError('KPNG_ERR_SNAPSHOT_PARSE', `${p.source}: the parser failed: ${e.message}`),
        ),
      );
    });
    worker.on('exit', (code) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.settle((p) => p.reject(new SnapshotError('KPNG_ERR_SNAPSHOT_PARSE', `${p.source}: the parser exited (code ${code}) before answering`)));
    });
    return worker;
  }
}
