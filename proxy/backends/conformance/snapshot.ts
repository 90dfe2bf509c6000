// The snapshot the proxies under test read (`kpng file --input=...`): rewriting it is how
// the suite changes the cluster. Written as a new file renamed over the old one, so a
// proxy never reads half of it.
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export class SnapshotFile {
  readonly path: string;
  readonly #dir: string;
  #writes = 0;

  private constructor(dir: string) {
    this.#dir = dir;
    this.path = path.join(dir, 'cluster.json');
  }

  /** A snapshot in a folder of its own (the file source watches the folder). */
  static async create(): Promise<SnapshotFile> {
    return new SnapshotFile(await mkdtemp(path.join(tmpdir(), 'kpng-conformance-')));
  }

  /** Replaces the snapshot with these objects (a kind: List). Resolves with the time (ms since the epoch) just before the write. */
  async write(objects: unknown[]): Promise<number> {
    const next = path.join(this.#dir, `.cluster-${++this.#writes}.json`);
    await writeFile(next, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 1));
    const at = Date.now();
    await rename(next, this.path);
    return at;
  }

  async remove(): Promise<void> {
    await rm(this.#dir, { recursive: true, force: true });
  }
}
