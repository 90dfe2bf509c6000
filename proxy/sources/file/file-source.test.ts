import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClusterDelta, ClusterState } from '../../model/index.ts';
import { createLogger, memoryLogger, type LogLine } from '../../runtime/log.ts';
import type { ClusterSink } from '../../sinks/sink.ts';
import { FileSource, type FileSourceOptions } from './file-source.ts';

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
  /** Resolves once the cluster holds exactly these Services; rejects naming what it holds after ms. */
  until(services: string[], ms = 5000): Promise<void> {
    const holds = () => JSON.stringify(this.updates.at(-1)?.services) === JSON.stringify(services);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`still ${JSON.stringify(this.updates.at(-1)?.services)} after ${ms}ms, want ${JSON.stringify(services)}`)), ms);
      const wait = () => {
        if (holds()) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(wait);
      };
      wait();
    });
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

/** The source running on file, its first sync done. */
async function follow(file: string, opts: Partial<FileSourceOptions> = {}) {
  const sink = new Recorder();
  const logger = memoryLogger();
  const source = new FileSource({ input: file, once: false, debounceMs: 20, logger, ...opts });
  const first = sink.next();
  const running = source.run(sink, ctrl.signal);
  await first;
  return { sink, logger, running };
}

describe('the file source', () => {
  it('re-reads the snapshot when it changes, also when it is replaced by rename', async () => {
    await writeFile(input, svc('a', '10.96.0.1'));
    const { sink, running } = await follow(input);
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
    expect(logger.lines.at(-1)?.msg).toMatch(/^KPNG_ERR_SNAPSHOT_PARSE: keeping the last good state: .*state\.yaml:\d+:\d+: cannot parse/);
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

describe('a snapshot that is not objects keeps the last good state', () => {
  const utf16 = (s: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(s, 'utf16le')]);
  it.each([
    ['garbage bytes', Buffer.from([0x9c, 0x00, 0xfe, 0x13, 0x88, 0x41]), 'KPNG_ERR_SNAPSHOT_ENCODING'],
    ['UTF-16 with a byte order mark', utf16(svc('b', '10.96.0.2')), 'KPNG_ERR_SNAPSHOT_ENCODING'],
    ['UTF-16 without one', Buffer.from(svc('b', '10.96.0.2'), 'utf16le'), 'KPNG_ERR_SNAPSHOT_ENCODING'],
    ['an empty file', Buffer.alloc(0), 'KPNG_ERR_SNAPSHOT_EMPTY'],
    ['a truncated file', Buffer.from('apiVersion: v1\nkind: List\nitems:\n- kind: Service\n  metadata:\n'), 'KPNG_ERR_SNAPSHOT_NOT_OBJECTS'],
    ['a file cut inside a word', Buffer.from('apiVersion: v1\nkind: List\nitems:\n- kind: Service\n  meta'), 'KPNG_ERR_SNAPSHOT_PARSE'],
    ['a bare word', Buffer.from('hello\n'), 'KPNG_ERR_SNAPSHOT_NOT_OBJECTS'],
    ['a YAML scalar', Buffer.from('--- 3.14\n'), 'KPNG_ERR_SNAPSHOT_NOT_OBJECTS'],
    ['a list of non-objects', Buffer.from('- one\n- two\n'), 'KPNG_ERR_SNAPSHOT_NOT_OBJECTS'],
    ['the wrong file (a Deployment)', Buffer.from('apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n'), 'KPNG_ERR_SNAPSHOT_NOT_OBJECTS'],
  ])('%s: no Service is removed; the error names the file and what is accepted', async (_what, bytes, code) => {
    await writeFile(input, svc('a', '10.96.0.1'));
    const sink = new Recorder();
    const logger = memoryLogger();
    const source = new FileSource({ input, once: false, debounceMs: 10, logger });
    expect(await source.load(sink)).toBe(true);
    await writeFile(input, bytes);
    expect(await source.load(sink)).toBe(false);
    expect(sink.updates).toEqual([{ services: ['default/a'], delta: ['default/a'] }]);
    const line = logger.lines.at(-1)!;
    expect(line.fields.code).toBe(code);
    expect(line.msg).toMatch(new RegExp(`^${code}: keeping the last good state: ${input}(:\\d+:\\d+)?: `));
    expect(line.msg).toMatch(/accepted: UTF-8 YAML or JSON/);
  });

  it('an explicitly empty List removes every Service', async () => {
    await writeFile(input, svc('a', '10.96.0.1'));
    const { sink } = await follow(input);
    const changed = sink.next();
    await writeFile(input, 'apiVersion: v1\nkind: List\nitems: []\n');
    await changed;
    expect(sink.updates.at(-1)).toEqual({ services: [], delta: ['default/a'] });
  });
});

/** Write path through a new file renamed over it, as editors and to-file do. */
async function writeAtomically(file: string, text: string) {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

// Polling is off (once a minute) where watching alone must see the change.
const watchOnly = { pollMs: 60_000 };

describe('following the file however it is replaced', () => {
  it('written in place', async () => {
    await writeFile(input, svc('a', '10.96.0.1'));
    const { sink } = await follow(input, watchOnly);
    await writeFile(input, svc('b', '10.96.0.2'));
    await sink.until(['default/b']);
  });

  it('renamed over (an atomic write)', async () => {
    await writeFile(input, svc('a', '10.96.0.1'));
    const { sink } = await follow(input, watchOnly);
    await writeAtomically(input, svc('b', '10.96.0.2'));
    await sink.until(['default/b']);
  });

  it('written in place where a symlink in another folder points', async () => {
    const real = path.join(dir, 'real');
    await mkdir(real);
    await writeFile(path.join(real, 'actual.yaml'), svc('a', '10.96.0.1'));
    const links = path.join(dir, 'links');
    await mkdir(links);
    await symlink(path.join(real, 'actual.yaml'), path.join(links, 'state.yaml'));
    const { sink } = await follow(path.join(links, 'state.yaml'), watchOnly);
    await writeFile(path.join(real, 'actual.yaml'), svc('b', '10.96.0.2'));
    await sink.until(['default/b']);
  });

  it('deleted, then created again: the state stays meanwhile and the error names the file', async () => {
    await writeFile(input, svc('a', '10.96.0.1'));
    const { sink, logger } = await follow(input, watchOnly);
    const gone = new Promise<LogLine>((resolve) => {
      const timer = setInterval(() => {
        const line = logger.lines.find((l) => l.fields.code === 'KPNG_ERR_SNAPSHOT_READ');
        if (line) {
          clearInterval(timer);
          resolve(line);
        }
      }, 10);
    });
    await unlink(input);
    expect((await gone).msg).toBe(`KPNG_ERR_SNAPSHOT_READ: keeping the last good state: ${input}: no such file`);
    expect(sink.updates.at(-1)?.services).toEqual(['default/a']);
    await writeFile(input, svc('b', '10.96.0.2'));
    await sink.until(['default/b']);
  });

  it('its folder removed and created again, more than once', async () => {
    const folder = path.join(dir, 'config');
    const file = path.join(folder, 'state.yaml');
    await mkdir(folder);
    await writeFile(file, svc('a', '10.96.0.1'));
    const { sink } = await follow(file, { pollMs: 50 });
    for (const [name, ip] of [['b', '10.96.0.2'], ['c', '10.96.0.3']] as const) {
      await rm(folder, { recursive: true });
      await mkdir(folder);
      await writeFile(file, svc(name, ip));
      await sink.until([`default/${name}`]);
      // And it goes on following the file in the folder that came back.
      await writeFile(file, svc(`${name}2`, ip));
      await sink.until([`default/${name}2`]);
    }
  });

  it('in a busy folder: other files changing all the time do not hold the re-read back', async () => {
    await writeFile(input, svc('a', '10.96.0.1'));
    const { sink } = await follow(input, { ...watchOnly, debounceMs: 300 });
    let busy = true;
    const churn = (async () => {
      for (let i = 0; busy; i++) await writeFile(path.join(dir, 'other.log'), `line ${i}\n`);
    })();
    try {
      await writeAtomically(input, svc('b', '10.96.0.2'));
      await sink.until(['default/b']);
    } finally {
      busy = false;
      await churn;
    }
  });

  it("a ConfigMap volume's ..data symlink swapped the way kubelet updates it", async () => {
    // kubelet's layout: <dir>/..<timestamp>/<key>, <dir>/..data -> ..<timestamp>, <dir>/<key> -> ..data/<key>.
    const volume = path.join(dir, 'volume');
    await mkdir(volume);
    let generation = 0;
    const publish = async (text: string) => {
      const stamp = `..2026_12_03_07_00_0${generation}.00000000${generation}`;
      generation++;
      await mkdir(path.join(volume, stamp));
      await writeFile(path.join(volume, stamp, 'state.yaml'), text);
      // A new ..data symlink renamed over the old one, then the old payload removed.
      await symlink(stamp, path.join(volume, '..data_tmp'));
      await rename(path.join(volume, '..data_tmp'), path.join(volume, '..data'));
      return stamp;
    };
    let old = await publish(svc('a', '10.96.0.1'));
    await symlink('..data/state.yaml', path.join(volume, 'state.yaml'));
    const { sink } = await follow(path.join(volume, 'state.yaml'), watchOnly);
    for (const name of ['b', 'c']) {
      const stamp = await publish(svc(name, '10.96.0.2'));
      await rm(path.join(volume, old), { recursive: true });
      old = stamp;
      await sink.until([`default/${name}`]);
    }
  });
});

describe('snapshot size', () => {
  it('refuses a snapshot larger than --max-bytes with the file, its size and the limit, and keeps the last good state', async () => {
    await writeFile(input, svc('a', '10.96.0.1'));
    const { sink, logger } = await follow(input, { maxBytes: 4096, ...watchOnly });
    const big = Array.from({ length: 100 }, (_, i) => svc(`s${i}`, `10.96.1.${i}`)).join('---\n');
    expect(big.length).toBeGreaterThan(4096);
    await writeFile(input, big);
    const refused = new Promise<LogLine>((resolve) => {
      const timer = setInterval(() => {
        const line = logger.lines.find((l) => l.fields.code === 'KPNG_ERR_SNAPSHOT_TOO_LARGE');
        if (line) {
          clearInterval(timer);
          resolve(line);
        }
      }, 10);
    });
    expect((await refused).msg).toBe(
      `KPNG_ERR_SNAPSHOT_TOO_LARGE: keeping the last good state: ${input}: ${big.length} bytes (0.0 MiB), more than the file source's --max-bytes=4096 (0.0 MiB) (accepted: a snapshot of at most --max-bytes; raise it for a larger cluster)`,
    );
    expect(sink.updates).toHaveLength(1);
    expect(sink.updates[0]?.services).toEqual(['default/a']);
  });

  it('enforces --max-bytes while reading too: a file that grows past it (stat said 0 bytes) is refused', async () => {
    // /dev/zero: stat says 0 bytes, reading never ends.
    const sink = new Recorder();
    const logger = memoryLogger();
    const source = new FileSource({ input: '/dev/zero', once: false, debounceMs: 10, maxBytes: 1 << 20, logger });
    expect(await source.load(sink)).toBe(false);
    expect(logger.lines.at(-1)?.fields.code).toBe('KPNG_ERR_SNAPSHOT_TOO_LARGE');
    expect(logger.lines.at(-1)?.msg).toBe(
      "KPNG_ERR_SNAPSHOT_TOO_LARGE: keeping the last good state: /dev/zero: grew past 1048576 bytes while being read, more than the file source's --max-bytes=1048576 (1.0 MiB) (accepted: a snapshot of at most --max-bytes; raise it for a larger cluster)",
    );
    expect(sink.updates).toEqual([]);
  });

  it('names the file when it is a directory', async () => {
    const logger = memoryLogger();
    const source = new FileSource({ input: dir, once: false, debounceMs: 10, logger });
    expect(await source.load(new Recorder())).toBe(false);
    expect(logger.lines.at(-1)?.fields.code).toBe('KPNG_ERR_SNAPSHOT_READ');
    expect(logger.lines.at(-1)?.msg).toBe(`KPNG_ERR_SNAPSHOT_READ: keeping the last good state: ${dir}: is a directory (accepted: a file)`);
  });

  it('refuses a parse that needs more than its heap, and the process goes on', async () => {
    // YAML needs tens of times its size while parsing: 700 kB in a 24 MiB parse heap cannot.
    const big = Array.from({ length: 8000 }, (_, i) => svc(`s${i}`, `10.96.${i >> 8}.${i & 255}`)).join('---\n');
    await writeFile(input, svc('a', '10.96.0.1'));
    const sink = new Recorder();
    const logger = memoryLogger();
    const source = new FileSource({ input, once: false, debounceMs: 10, parseHeapMb: 24, logger });
    expect(await source.load(sink)).toBe(true);
    await writeFile(input, big);
    expect(await source.load(sink)).toBe(false);
    expect(logger.lines.at(-1)?.fields.code).toBe('KPNG_ERR_SNAPSHOT_TOO_LARGE');
    expect(logger.lines.at(-1)?.msg).toMatch(new RegExp(`${input}: parsing its ${big.length} bytes .* needed more than the parser's 24 MiB heap`));
    expect(sink.updates).toHaveLength(1);
    // A new parse thread takes the next snapshot.
    await writeFile(input, svc('b', '10.96.0.2'));
    expect(await source.load(sink)).toBe(true);
    expect(sink.updates.at(-1)?.services).toEqual(['default/b']);
  }, 30_000);

  it('keeps serving other events (a /livez-like HTTP server) while a large snapshot is parsed', async () => {
    // About 200 kB of YAML: a parse of a few hundred milliseconds, against a loopback round trip of one.
    const big = Array.from({ length: 2000 }, (_, i) => svc(`s${i}`, `10.96.${i >> 8}.${i & 255}`)).join('---\n');
    await writeFile(input, big);
    const server: Server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      let parsed = false;
      let answeredDuringParse = 0;
      const ask = () =>
        get({ host: '127.0.0.1', port, path: '/livez' }, (res) => {
          res.resume();
          res.on('end', () => {
            if (parsed) return;
            answeredDuringParse++;
            ask();
          });
        }).on('error', () => {}); // the one in flight when the server closes
      // The first request goes out once the file has been read and its parse begins.
      const logger = createLogger({ level: 'debug', write: (l) => l.msg === 'parsing the snapshot' && ask() });
      const sink = new Recorder();
      const source = new FileSource({ input, once: false, debounceMs: 10, logger });
      expect(await source.load(sink)).toBe(true);
      parsed = true;
      expect(sink.updates.at(-1)?.services).toHaveLength(2000);
      expect(answeredDuringParse).toBeGreaterThan(0);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 30_000);
});
