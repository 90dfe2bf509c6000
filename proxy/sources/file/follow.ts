// Following a file through every way it gets replaced: written in place, renamed over,
// deleted and re-created, its folder removed and re-created, or swapped under a symlink
// the way kubelet updates a mounted ConfigMap (`file -> ..data/file`,
// `..data -> ..<timestamp>`, and a new `..data` renamed over the old one, so no event ever
// names the file). Watches the folder of the path and the folder it resolves to,
// re-resolving both at every look, and also looks on a timer for what watches miss (a
// folder that went away and came back, file systems without events). A look compares
// what stat says of the file (device, inode, size, mtime, ctime) with what was last read.
import { watch, type FSWatcher } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../runtime/log.ts';
import { Coalescer } from '../coalesce.ts';

/** What stat says of the file (following symlinks), enough to tell that its content may differ; or why it has none. */
export async function fileIdentity(file: string): Promise<string> {
  try {
    const s = await stat(file, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (e) {
    return `unreadable: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;
  }
}

async function folderIdentity(dir: string): Promise<string | undefined> {
  try {
    const s = await stat(dir, { bigint: true });
    return s.isDirectory() ? `${s.dev}:${s.ino}` : undefined;
  } catch {
    return undefined;
  }
}

export interface FollowOptions {
  /** fileIdentity() of the file just before it was last read. */
  seen: string;
  /** Quiet time after a change before re-reading; while changes keep coming, a re-read at least every 10 × this. */
  debounceMs: number;
  /** How often to look without an event. */
  pollMs: number;
  signal: AbortSignal;
  logger: Logger;
}

/** Call reload() (one at a time) whenever the file may have changed; resolves once the signal aborts and a running reload has finished. */
export async function followFile(file: string, opts: FollowOptions, reload: () => Promise<void>): Promise<void> {
  const { signal, logger } = opts;
  const abs = path.resolve(file);
  const watchers = new Map<string, { watcher: FSWatcher; id: string }>();
  const unwatchable = new Set<string>();
  let seen = opts.seen;
  /** Names the events must carry to force a re-read even when stat looks the same (coarse mtimes). */
  let names = new Set([path.basename(abs)]);
  let named = false;
  /** A re-read is due (the coalescer holds a change not yet looked at). */
  let due = false;

  const unwatch = (dir: string) => {
    watchers.get(dir)?.watcher.close();
    watchers.delete(dir);
  };

  // Watch the folders the path goes through now: its own and the one it resolves to.
  const rewatchNow = async () => {
    const dirs = new Set([path.dirname(abs)]);
    try {
      const real = await realpath(abs);
      dirs.add(path.dirname(real));
      names = new Set([path.basename(abs), path.basename(real)]);
    } catch {
      // Not there (yet): its folder is watched for it.
    }
    if (signal.aborted) return;
    for (const dir of [...watchers.keys()]) if (!dirs.has(dir)) unwatch(dir);
    for (const dir of dirs) {
      const id = await folderIdentity(dir);
      if (signal.aborted) return;
      if (watchers.get(dir)?.id === id) continue;
      unwatch(dir);
      if (id === undefined) continue;
      try {
        const watcher = watch(dir, (_event, name) => notice(name === null || names.has(name)));
        watcher.on('error', () => {
          if (watchers.get(dir)?.watcher === watcher) unwatch(dir);
        });
        watchers.set(dir, { watcher, id });
        unwatchable.delete(`${dir} ${id}`);
      } catch (e) {
        if (!unwatchable.has(`${dir} ${id}`)) {
          unwatchable.add(`${dir} ${id}`);
          logger.warn(`cannot watch ${dir}, looking every ${opts.pollMs}ms instead`, { err: e });
        }
      }
    }
  };

  // One at a time: two at once would both add a watcher for the same folder.
  let rewatching = Promise.resolve();
  const rewatch = () =>
    (rewatching = rewatching.then(rewatchNow).catch((e: unknown) => logger.warn(`cannot watch the folders of ${abs}, looking every ${opts.pollMs}ms`, { err: e })));

  let running: Promise<void> | undefined;
  let again = false;
  const look = async () => {
    await rewatch();
    const id = await fileIdentity(abs);
    const forced = named;
    named = false;
    if (signal.aborted || (!forced && id === seen)) return;
    seen = id;
    await reload();
  };
  const check = () => {
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        await look();
      } while (again && !signal.aborted);
    })()
      .catch((e: unknown) => logger.error(`re-reading ${abs} failed`, { err: e }))
      .finally(() => (running = undefined));
  };
  // Quiet time after the last change, but never more than 10 × that after the first one
  // not yet looked at: a file that keeps changing is still re-read.
  const looks = new Coalescer({
    quietMs: opts.debounceMs,
    maxDelayMs: 10 * opts.debounceMs,
    run: async () => {
      due = false;
      check();
    },
    onError: (e) => logger.error(`re-reading ${abs} failed`, { err: e }),
  });
  // An event naming the file restarts the quiet time; others (a busy folder) only start one.
  const notice = (namesFile: boolean) => {
    if (signal.aborted || (!namesFile && due)) return;
    named ||= namesFile;
    due = true;
    looks.changed();
  };

  // A look without an event: also right away, for a change made before the watches were set.
  const poll = async () => {
    await rewatch();
    if ((await fileIdentity(abs)) !== seen) notice(false);
  };
  await poll();
  const polling = setInterval(() => void poll(), opts.pollMs);

  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(polling);
  await looks.close();
  for (const dir of [...watchers.keys()]) unwatch(dir);
  await running;
}
