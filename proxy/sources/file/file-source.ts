// The file source: a snapshot on disk, re-read whenever it changes: once it has been quiet
// for --debounce, and at least every 10 × --debounce while it keeps changing. An
// unparseable snapshot keeps the last good state and logs where the error is.
import { readFile } from 'node:fs/promises';
import { watch } from 'node:fs';
import path from 'node:path';
import { ClusterState, formatWarning, isEmptyDelta } from '../../model/index.ts';
import type { Logger } from '../../runtime/log.ts';
import type { ClusterSink } from '../../sinks/sink.ts';
import { Coalescer } from '../coalesce.ts';
import type { ClusterSource } from '../source.ts';
import { parseSnapshot } from './parse.ts';

export interface FileSourceOptions {
  input: string;
  /** Read once, let every sink sync once, and return. */
  once: boolean;
  /** Quiet time after a change before re-reading (while changes keep coming, at most 10 × this). */
  debounceMs: number;
  /** Only Services labelled service.kubernetes.io/service-proxy-name=<this> count. */
  serviceProxyName?: string;
  logger: Logger;
}

export class FileSource implements ClusterSource {
  private readonly cluster: ClusterState;
  private first = true;
  private readonly opts: FileSourceOptions;

  constructor(opts: FileSourceOptions) {
    this.opts = opts;
    this.cluster = new ClusterState(opts.serviceProxyName ? { serviceProxyName: opts.serviceProxyName } : {});
  }

  /** Read and apply the snapshot; false when it could not be read or parsed (state kept). */
  async load(sink: ClusterSink): Promise<boolean> {
    const { input, logger } = this.opts;
    let objects: unknown[];
    try {
      objects = parseSnapshot(await readFile(input, 'utf8'), input);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const detail = err.code === 'ENOENT' ? `${input}: no such file` : err.message;
      logger.error(`keeping the last good state: ${detail}`, { code: (err as { code?: string }).code ?? 'KPNG_ERR_SNAPSHOT_READ' });
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
    const ok = await this.load(sink);
    if (this.opts.once) {
      if (!ok) throw new Error(`KPNG_ERR_SNAPSHOT: ${this.opts.input} could not be read`);
      await sink.drain();
      return;
    }
    // Watch the folder, not the file: editors and `kubectl > file` replace it by rename.
    const dir = path.dirname(path.resolve(this.opts.input));
    const base = path.basename(this.opts.input);
    const reads = new Coalescer({
      quietMs: this.opts.debounceMs,
      maxDelayMs: 10 * this.opts.debounceMs,
      run: () => this.load(sink).then(() => undefined),
      onError: (err) => this.opts.logger.error('reading the snapshot failed', { err }),
    });
    await new Promise<void>((resolve) => {
      const watcher = watch(dir, { signal }, (_event, filename) => {
        if (filename !== null && filename !== base) return;
        reads.changed();
      });
      watcher.on('error', (e) => {
        if ((e as { name?: string }).name !== 'AbortError') this.opts.logger.error('watching the snapshot failed', { err: e });
      });
      watcher.on('close', () => resolve());
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await reads.close();
  }
}
