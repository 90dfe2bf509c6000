// One resource kept in sync by list + watch, hardened against the client library's known
// pitfalls: restarts after any error with backoff, one at a time (a sequential loop);
// relists on 410 Gone, also when it arrives as an ERROR event inside a 200 stream;
// a silent stall ends the watch (the client's inactivity watchdog) and it resumes from
// the last resource version; handlers are idempotent (the cluster state ignores repeats).
import type { ObjectKind } from '../../model/index.ts';
import type { Logger } from '../../runtime/log.ts';
import { Backoff, sleep } from '../backoff.ts';
import { KubeAPIError, type KubeClient, type WatchEvent } from './client.ts';

export interface ReflectorOptions {
  kind: ObjectKind;
  apiVersion: string;
  path: string;
  labelSelector?: string;
  client: KubeClient;
  logger: Logger;
  /** Server-side watch timeout range in seconds (randomised like client-go's 5–10 min). */
  watchTimeoutSeconds?: [number, number];
  backoff?: Backoff;
  /** A full list arrived: the kind's objects are exactly these. */
  onReplace(objects: unknown[]): void;
  onEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: unknown): void;
}

class Gone extends Error {}

/**
 * An object fresh from JSON.parse (a list item or a watch event's object, owned by the
 * caller) made into the one the cluster state keeps, in place, not copied: a list item gets
 * its kind (list items carry none), and metadata.managedFields goes (the API server's record
 * of field owners: nothing the proxy reads, and about 40% of the objects' heap). The key is
 * kept, set to undefined, so the object keeps its shape.
 */
export function adoptReceived(obj: unknown, kind: ObjectKind, apiVersion: string): unknown {
  const o = obj as Record<string, unknown>;
  if (o && typeof o === 'object') {
    if (!o.kind) {
      o.apiVersion ??= apiVersion;
      o.kind = kind;
    }
    const meta = o.metadata as Record<string, unknown> | undefined;
    if (meta && typeof meta === 'object' && meta.managedFields !== undefined) meta.managedFields = undefined;
  }
  return o;
}

export class Reflector {
  /** Times a full list was applied (first sync included). */
  lists = 0;
  /** Times a watch was (re)started. */
  watches = 0;
  /** Lists and watches that failed (410 Gone not counted: that is a relist). */
  failures = 0;
  synced = false;
  private readonly o: ReflectorOptions;

  constructor(o: ReflectorOptions) {
    this.o = o;
  }

  get kind(): ObjectKind {
    return this.o.kind;
  }

  private adopt(obj: unknown): unknown {
    return adoptReceived(obj, this.o.kind, this.o.apiVersion);
  }

  async run(signal: AbortSignal): Promise<void> {
    const { client, logger, path, labelSelector } = this.o;
    const backoff = this.o.backoff ?? new Backoff({ initialMs: 500, maxMs: 30_000, jitter: 0.3 });
    const [tMin, tMax] = this.o.watchTimeoutSeconds ?? [300, 600];
    const selector: Record<string, string> = labelSelector ? { labelSelector } : {};
    let rv = '';
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          const list = await client.list(path, selector, signal);
          if (signal.aborted) return;
          this.o.onReplace(list.items.map((i) => this.adopt(i)));
          rv = list.resourceVersion;
          needList = false;
          this.lists++;
          this.synced = true;
          logger.debug('listed', { kind: this.o.kind, count: list.items.length, resourceVersion: rv });
        }
        const watchCtrl = new AbortController();
        const stopWatch = () => watchCtrl.abort();
        signal.addEventListener('abort', stopWatch, { once: true });
        let gone = false;
        this.watches++;
        const query: Record<string, string> = {
          ...selector,
          resourceVersion: rv,
          allowWatchBookmarks: 'true',
          timeoutSeconds: String(tMin + Math.floor(Math.random() * (tMax - tMin + 1))),
        };
        logger.debug('watching', { kind: this.o.kind, resourceVersion: rv });
        try {
          await client.watch(
            path,
            query,
            (e: WatchEvent) => {
              if (gone) return;
              if (e.type === 'ERROR') {
                const code = (e.object as { code?: number }).code;
                logger.info('watch error event', { kind: this.o.kind, code, message: (e.object as { message?: string }).message });
                if (code === 410) gone = true;
                watchCtrl.abort();
                return;
              }
              const meta = (e.object as { metadata?: { resourceVersion?: string } }).metadata;
              if (meta?.resourceVersion) rv = meta.resourceVersion;
              if (e.type === 'BOOKMARK') return;
              backoff.reset();
              logger.debug('event', { kind: this.o.kind, type: e.type, name: (meta as { name?: string } | undefined)?.name, resourceVersion: rv });
              this.o.onEvent(e.type, this.adopt(e.object));
            },
            watchCtrl.signal,
          );
        } finally {
          signal.removeEventListener('abort', stopWatch);
        }
        if (gone) throw new Gone('resource version too old (410 Gone)');
        // A watch the server closed (its timeout) resumes from the last resource version.
      } catch (e) {
        if (signal.aborted) return;
        const status = e instanceof KubeAPIError ? e.status : (e as { statusCode?: number }).statusCode;
        if (e instanceof Gone || status === 410) {
          logger.info('relisting after 410 Gone', { kind: this.o.kind });
          needList = true;
          continue;
        }
        this.failures++;
        const delay = backoff.next();
        logger.warn(`${needList ? 'list' : 'watch'} failed, retrying`, { kind: this.o.kind, inMs: delay, err: (e as Error).message });
        await sleep(delay, signal);
      }
    }
  }
}
