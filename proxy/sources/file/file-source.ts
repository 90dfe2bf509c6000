// The file source: a snapshot on disk, re-read whenever it changes, however it is replaced
// (follow.ts): once quiet for --debounce, and at least every 10 × --debounce while it keeps
// changing. Only a snapshot that is plainly a list of objects replaces the
// state (parse.ts); one that cannot be read, is too large, is not UTF-8 text, does not
// parse or is not objects keeps the last good state and logs why, naming the file.
import { errorText } from '../../errors.ts';
import { ClusterState, formatWarning, isEmptyDelta, objectKinds } from '../../model/index.ts';
import type { Logger } from '../../runtime/log.ts';
import type { ClusterSink } from '../../sinks/sink.ts';
import type { ClusterSource } from '../source.ts';
import { fileIdentity, followFile } from './follow.ts';
import { requireSomeKind, SnapshotError } from './parse.ts';
import { defaultMaxBytes, readSnapshotFile, SnapshotParser } from './read-snapshot.ts';

export interface FileSourceOptions {
  input: string;
  /** Read once, let every sink sync once, and return. */
  once: boolean;
  /** Quiet time after a change before re-reading (while changes keep coming, at most 10 × this). */
  debounceMs: number;
  /** Largest snapshot read, in bytes (default 64 MiB). */
  maxBytes?: number;
  /** How often to look at the file without a watch event (default 1 s). */
  pollMs?: number;
  /** Heap of the thread that parses the snapshot, in MiB. */
  parseHeapMb?: number;
  /** Only Services labelled service.kubernetes.io/service-proxy-name=<this> count. */
  serviceProxyName?: string;
  logger: Logger;
}

export const defaultPollMs = 1000;

export class FileSource implements ClusterSource {
  private readonly cluster: ClusterState;
  private first = true;
  private readonly opts: FileSourceOptions;
  private lastError: SnapshotError | undefined;
  private readonly parser: SnapshotParser;

  constructor(opts: FileSourceOptions) {
    this.opts = opts;
    this.parser = new SnapshotParser(opts.parseHeapMb);
    this.cluster = new ClusterState(opts.serviceProxyName ? { serviceProxyName: opts.serviceProxyName } : {});
  }

  /** Read and apply the snapshot; false when it could not be used (state kept, reason logged). */
  async load(sink: ClusterSink, signal?: AbortSignal): Promise<boolean> {
    const { input, logger } = this.opts;
    let objects: unknown[];
    try {
      const bytes = await readSnapshotFile(input, this.opts.maxBytes ?? defaultMaxBytes);
      logger.debug('parsing the snapshot', { file: input, bytes: bytes.length });
      objects = await this.parser.parse(bytes, input);
      requireSomeKind(objects, objectKinds, input);
    } catch (e) {
      if (signal?.aborted) return false;
      const err = e as NodeJS.ErrnoException;
      const reason =
        e instanceof SnapshotError
          ? e
          : new SnapshotError('KPNG_ERR_SNAPSHOT_READ', err.code === 'ENOENT' ? `${input}: no such file` : err.message.includes(input) ? err.message : `${input}: ${err.message}`);
      this.lastError = reason;
      logger.error(errorText(reason.code, `keeping the last good state: ${reason.detail}`), { code: reason.code });
      return false;
    }
    const { delta, warnings } = this.cluster.replaceAll(objects);
    for (const w of warnings) logger.warn(formatWarning(w));
    if (this.first || !isEmptyDelta(delta)) {
      this.first = false;
      logger.debug('snapshot applied', { services: this.cluster.services.size, slices: this.cluster.slices.size, nodes: this.cluster.nodes.size });
      sink.onCluster(this.cluster, delta);
    }
    return true;
  }

  async run(sink: ClusterSink, signal: AbortSignal): Promise<void> {
    const { input, logger } = this.opts;
    // A parse under way when the signal aborts is dropped.
    const stop = () => void this.parser.close(new Error('stopped'));
    signal.addEventListener('abort', stop, { once: true });
    try {
      const seen = await fileIdentity(input);
      const ok = await this.load(sink, signal);
      if (this.opts.once) {
        if (!ok) throw this.lastError ?? new SnapshotError('KPNG_ERR_SNAPSHOT_READ', `${input} could not be read`);
        await sink.drain();
        return;
      }
      const follow = { seen, debounceMs: this.opts.debounceMs, pollMs: this.opts.pollMs ?? defaultPollMs, signal, logger };
      await followFile(input, follow, async () => {
        await this.load(sink, signal);
      });
    } finally {
      signal.removeEventListener('abort', stop);
      await this.parser.close();
    }
  }
}
