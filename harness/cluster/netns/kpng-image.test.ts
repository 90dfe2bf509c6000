import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../k8s-binaries.ts';
import { IMAGE_BUILD_ENV, productionModules, writeKpngArchive, type KpngImageInputs } from './kpng-image.ts';

describe('productionModules (what the kpng image copies of node_modules)', () => {
  it('keeps the outermost folder of each production package, relative to the repository, without the project itself', () => {
    const parseable = ['/repo', '/repo/node_modules/@grpc/grpc-js', '/repo/node_modules/@grpc/grpc-js/node_modules/semver', '/repo/node_modules/yaml', '/repo/node_modules/zod', ''].join('\n');
    expect(productionModules(parseable)).toEqual(['node_modules/@grpc/grpc-js', 'node_modules/yaml', 'node_modules/zod']);
  });

  it('does not take a package for a prefix of another’s name, and reads paths through a linked node_modules', () => {
    expect(productionModules('/repo/node_modules/execa\n/elsewhere/node_modules/execa-extra\n')).toEqual(['node_modules/execa', 'node_modules/execa-extra']);
  });
});

describe('the daemon-free image builds the proxy as proxy/Dockerfile does', () => {
  it("runs npm run build with the environment of the Dockerfile's build (KPNG_BPF_REQUIRED=1: the eBPF programs are in the image, or the build fails)", () => {
    const dockerfile = readFileSync(path.join(repoRoot, 'proxy/Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
    const buildRun = dockerfile.split('\n').find((line) => /^RUN\b.*\bnpm run build\b/.test(line));
    expect(buildRun, 'a RUN line of proxy/Dockerfile runs npm run build').toBeDefined();
    const dockerEnv = Object.fromEntries([...(buildRun ?? '').matchAll(/\b([A-Z][A-Z0-9_]*)=(\S+)/g)].filter(([, name]) => name !== 'PATH').map(([, name, value]) => [name, value]));
    expect(IMAGE_BUILD_ENV).toEqual(dockerEnv);
  });
});

describe('writeKpngArchive (the kpng image archive from its inputs)', () => {
  const work = mkdtemp(path.join(tmpdir(), 'kpng-image-test-'));
  afterAll(async () => rm(await work, { recursive: true, force: true }));

  /** A checkout (package.json, dist/proxy, one production package), a Node.js stand-in and a Debian layer stand-in. */
  async function inputs(): Promise<KpngImageInputs> {
    const base = path.join(await work, 'inputs');
    const root = path.join(base, 'repo');
    await mkdir(path.join(root, 'dist/proxy'), { recursive: true });
    await mkdir(path.join(root, 'node_modules/yaml/dist'), { recursive: true });
    await writeFile(path.join(root, 'package.json'), '{"name":"kpng","type":"module"}\n');
    await writeFile(path.join(root, 'dist/proxy/kpng.sh'), '#!/bin/sh\nexec node /opt/kpng/dist/proxy/cli.js "$@"\n', { mode: 0o755 });
    await writeFile(path.join(root, 'dist/proxy/cli.js'), 'console.log("kpng");\n');
    await writeFile(path.join(root, 'node_modules/yaml/dist/index.js'), 'export {};\n');
    const node = path.join(base, 'node');
    await writeFile(node, 'not really node\n');
    await chmod(node, 0o755);
    const debian = path.join(base, 'debian');
    await mkdir(path.join(debian, 'etc'), { recursive: true });
    await writeFile(path.join(debian, 'etc/os-release'), 'ID=debian\n');
    const layer = path.join(base, 'debian.layer.tar');
    await execa('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', debian, '-cf', layer, '.']);
    return { layer: { file: layer, how: 'a test layer' }, node, root, modules: ['node_modules/yaml'] };
  }
  const fresh = async (name: string) => {
    const dir = path.join(await work, name);
    await mkdir(dir, { recursive: true });
    return dir;
  };

  it('gives two writes from the same inputs the same name and the same bytes, and finds the archive the second time in the same folder', async () => {
    const given = await inputs();
    const [a, b] = [await fresh('a'), await fresh('b')];
    const first = await writeKpngArchive(a, given);
    // Later, with new mtimes on every input file: the layers are tarred with times zeroed.
    await execa('touch', ['-d', '2030-01-01', path.join(given.root, 'dist/proxy/cli.js'), given.node]);
    const second = await writeKpngArchive(b, given);
    expect(path.basename(second.file)).toBe(path.basename(first.file));
    expect((await readFile(second.file)).equals(await readFile(first.file))).toBe(true);
    const before = await stat(first.file);
    const lines: string[] = [];
    const again = await writeKpngArchive(a, given, { log: (line) => lines.push(line) });
    expect(again.file).toBe(first.file);
    expect((await stat(first.file)).mtimeMs).toBe(before.mtimeMs);
    expect(lines.join('\n')).not.toMatch(/writing/);
  });

  it('names the archive anew when the application changes; an earlier archive stays for an hour (another checkout may import it), then goes', async () => {
    const given = await inputs();
    const dir = await fresh('c');
    const first = await writeKpngArchive(dir, given);
    await writeFile(path.join(given.root, 'dist/proxy/cli.js'), 'console.log("kpng 2");\n');
    const second = await writeKpngArchive(dir, given);
    expect(path.basename(second.file)).not.toBe(path.basename(first.file));
    expect(path.basename(second.file)).toMatch(/^kpng-[0-9a-f]{16}\.tar$/);
    expect((await execa('ls', [dir])).stdout.split('\n').sort()).toEqual([path.basename(first.file), path.basename(second.file)].sort());
    await execa('touch', ['-d', '2 hours ago', second.file]);
    await writeFile(path.join(given.root, 'dist/proxy/cli.js'), 'console.log("kpng 3");\n');
    await execa('touch', ['-d', '2 hours ago', first.file]);
    const third = await writeKpngArchive(dir, given);
    expect((await execa('ls', [dir])).stdout.split('\n')).toEqual([path.basename(third.file)]);
  });
});
