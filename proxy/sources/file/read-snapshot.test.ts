import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keepThreadBelowBytes, readSnapshotFile, SnapshotParser } from './read-snapshot.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kpng-read-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const node = (i: number) => ({ kind: 'Node', metadata: { name: `node-${i}` } });

describe('reading a snapshot file', () => {
  it('reads up to --max-bytes exactly, and refuses one byte more', async () => {
    const file = path.join(dir, 'state.json');
    const text = JSON.stringify([node(0)]);
    await writeFile(file, text);
    expect(new TextDecoder().decode(await readSnapshotFile(file, text.length))).toBe(text);
    await expect(readSnapshotFile(file, text.length - 1)).rejects.toMatchObject({ code: 'KPNG_ERR_SNAPSHOT_TOO_LARGE' });
  });
});

describe('the parse thread', () => {
  it('is kept after a small snapshot and ended after a large one, so its heap goes back', async () => {
    const parser = new SnapshotParser();
    try {
      const small = new TextEncoder().encode(JSON.stringify([node(0)]));
      expect(await parser.parse(small, 'small.json')).toEqual([node(0)]);
      expect(parser.threadRunning).toBe(true);
      const nodes = Array.from({ length: 8000 }, (_, i) => node(i));
      const large = new TextEncoder().encode(JSON.stringify(nodes));
      expect(large.length).toBeGreaterThan(keepThreadBelowBytes);
      expect(await parser.parse(large, 'large.json')).toEqual(nodes);
      expect(parser.threadRunning).toBe(false);
      // And the next parse starts one again.
      expect(await parser.parse(new TextEncoder().encode(JSON.stringify([node(1)])), 'again.json')).toEqual([node(1)]);
    } finally {
      await parser.close();
    }
  });

  it('refuses what is not objects with the parse error, and parses on after it', async () => {
    const parser = new SnapshotParser();
    try {
      await expect(parser.parse(new TextEncoder().encode('hello'), 'state.yaml')).rejects.toMatchObject({ code: 'KPNG_ERR_SNAPSHOT_NOT_OBJECTS', message: expect.stringMatching(/^KPNG_ERR_SNAPSHOT_NOT_OBJECTS: state\.yaml: document 1/) });
      expect(await parser.parse(new TextEncoder().encode('[]'), 'state.yaml')).toEqual([]);
    } finally {
      await parser.close();
    }
  });
});
