import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClusterDelta, ClusterState } from '../../model/index.ts';
import { memoryLogger } from '../../runtime/log.ts';
import type { ClusterSink } from '../../sinks/sink.ts';
import { FileSource } from './file-source.ts';

class Recorder implements ClusterSink {
  updates: Array<{ services: string[]; delta: string[] }> = [];
  private waiters: Array<() => void> = [];
  async start() {}
  onCluster(cluster: ClusterState, delta: ClusterDelta) {
    this.updates.push({ services: [...cluster.services.keys()].sort(), delta: [...delta.services].sort() });
    this.waiters.splice(0).forEach((w) => w());
  }
  next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  async drain() {}
  async stop() {}
}

const svc = (name: string, ip: string) => `kind: Service\nmetadata: {name: ${name}}\nspec: {clusterIP: ${ip}, ports: [{port: 80}]}\n`;

let dir: string;
let input: string;
let ctrl: AbortController;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kpng-file-'));
  input = path.join(dir, 'state.yaml');
  ctrl = new AbortController();
});
afterEach(async () => {
  ctrl.abort();
  await rm(dir, { recursive: true, force: true });
});

describe('the file source', () => {
  it('re-reads the snapshot when it changes, also when it is replaced by rename', async () => {
    await writeFile(input, svc('a', '10.96.0.1'));
    const sink = new Recorder();
    const source = new FileSource({ input, once: false, debounceMs: 20, logger: memoryLogger() });
    const first = sink.next();
    const running = source.run(sink, ctrl.signal);
    await first;
    expect(sink.updates.at(-1)).toEqual({ services: ['default/a'], delta: ['default/a'] });

    let changed = sink.next();
    await writeFile(input, svc('a', '10.96.0.1') + '---\n' + svc('b', '10.96.0.2'));
    await changed;
    expect(sink.updates.at(-1)).toEqual({ services: ['default/a', 'default/b'], delta: ['default/b'] });

    changed = sink.next();
    await writeFile(`${input}.new`, svc('b', '10.96.0.2'));
    await rename(`${input}.new`, input);
    await changed;
    expect(sink.updates.at(-1)).toEqual({ services: ['default/b'], delta: ['default/a'] });
    ctrl.abort();
    await running;
  });

  it('a file that changes every few ms for 2.5 s is still re-read while it does (at least every 10 × --debounce)', async () => {
    await writeFile(input, svc('a', '10.96.0.1'));
    const sink = new Recorder();
    const source = new FileSource({ input, once: false, debounceMs: 100, logger: memoryLogger() });
    const first = sink.next();
    const running = source.run(sink, ctrl.signal);
    await first;
    const end = Date.now() + 2_500;
    for (let i = 0; Date.now() < end; i++) {
      await writeFile(input, svc('a', `10.96.${(i >> 8) & 255}.${i & 255}`));
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(sink.updates.length - 1).toBeGreaterThanOrEqual(1);
    ctrl.abort();
    await running;
  });

  it('keeps the last good state when the snapshot stops parsing, and logs where', async () => {
    await writeFile(input, svc('a', '10.96.0.1'));
    const sink = new Recorder();
    const logger = memoryLogger();
    const source = new FileSource({ input, once: false, debounceMs: 10, logger });
    expect(await source.load(sink)).toBe(true);
    await writeFile(input, 'kind: Service\nmetadata: {name: a\n');
    expect(await source.load(sink)).toBe(false);
    expect(sink.updates).toHaveLength(1);
    expect(logger.lines.at(-1)?.msg).toMatch(/keeping the last good state: .*state\.yaml:\d+:\d+: cannot parse/);
    // And recovers when it parses again.
    await writeFile(input, svc('a', '10.96.0.9'));
    expect(await source.load(sink)).toBe(true);
    expect(sink.updates).toHaveLength(2);
  });

  it('does not wake sinks when a re-read changes nothing', async () => {
    await writeFile(input, svc('a', '10.96.0.1'));
    const sink = new Recorder();
    const source = new FileSource({ input, once: false, debounceMs: 10, logger: memoryLogger() });
    await source.load(sink);
    await source.load(sink);
    expect(sink.updates).toHaveLength(1);
  });
});
