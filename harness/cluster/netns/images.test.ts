import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { debianLayerArgs, writeDockerArchive, writeImageArchive } from './images.ts';

const work = await mkdtemp(path.join(tmpdir(), 'kpng-images-test-'));
afterAll(() => rm(work, { recursive: true, force: true }));

async function untar(file: string, into: string): Promise<void> {
  await mkdir(into, { recursive: true });
  await execa('tar', ['-xf', file, '-C', into]);
}

describe('writeDockerArchive', () => {
  it('writes a docker-archive whose manifest names the image, and whose config and layer digests match their bytes', async () => {
    const root = path.join(work, 'root');
    await mkdir(path.join(root, 'bin'), { recursive: true });
    await writeFile(path.join(root, 'bin/hello'), '#!/bin/sh\necho hello\n', { mode: 0o755 });
    const out = path.join(work, 'image.tar');
    const digest = await writeDockerArchive(root, 'registry.k8s.io/test/hello:1.0', { entrypoint: ['/bin/hello'] }, out);
    const x = path.join(work, 'x');
    await untar(out, x);
    const manifest = JSON.parse(await readFile(path.join(x, 'manifest.json'), 'utf8')) as { Config: string; RepoTags: string[]; Layers: string[] }[];
    expect(manifest).toHaveLength(1);
    expect(manifest[0]!.RepoTags).toEqual(['registry.k8s.io/test/hello:1.0']);
    const configText = await readFile(path.join(x, manifest[0]!.Config));
    expect(createHash('sha256').update(configText).digest('hex')).toBe(digest);
    const config = JSON.parse(configText.toString()) as { os: string; config: { Entrypoint: string[] }; rootfs: { diff_ids: string[] } };
    expect(config.os).toBe('linux');
    expect(config.config.Entrypoint).toEqual(['/bin/hello']);
    const layer = await readFile(path.join(x, manifest[0]!.Layers[0]!));
    expect(config.rootfs.diff_ids).toEqual([`sha256:${createHash('sha256').update(layer).digest('hex')}`]);
    const { stdout } = await execa('tar', ['-tvf', path.join(x, manifest[0]!.Layers[0]!)]);
    expect(stdout).toMatch(/-rwxr-xr-x 0\/0 .* \.\/bin\/hello/);
  });

  it('gives the same bytes for the same folder (files owned by root, times zeroed, sorted)', async () => {
    const root = path.join(work, 'root');
    const a = await writeDockerArchive(root, 'registry.k8s.io/test/hello:1.0', {}, path.join(work, 'a.tar'));
    const b = await writeDockerArchive(root, 'registry.k8s.io/test/hello:1.0', {}, path.join(work, 'b.tar'));
    expect(a).toBe(b);
    expect((await readFile(path.join(work, 'a.tar'))).equals(await readFile(path.join(work, 'b.tar')))).toBe(true);
  });
});

describe('writeImageArchive', () => {
  it('writes several images in one archive, a layer they share stored once and listed first in each', async () => {
    const base = path.join(work, 'base');
    await mkdir(path.join(base, 'usr/bin'), { recursive: true });
    await writeFile(path.join(base, 'usr/bin/tool'), 'tool\n');
    const shared = path.join(work, 'shared.tar');
    await execa('tar', ['-C', base, '-cf', shared, '.']);
    const extra = path.join(work, 'extra');
    await mkdir(extra, { recursive: true });
    await writeFile(path.join(extra, 'app'), 'app\n');
    const out = path.join(work, 'set.tar');
    await writeImageArchive(
      [
        { name: 'registry.k8s.io/test/a:1', config: { entrypoint: ['/app'] }, layers: [{ tar: shared }, { dir: extra }] },
        { name: 'registry.k8s.io/test/b:1', config: { cmd: ['tool'] }, layers: [{ tar: shared }] },
      ],
      out,
    );
    const x = path.join(work, 'set');
    await untar(out, x);
    const manifest = JSON.parse(await readFile(path.join(x, 'manifest.json'), 'utf8')) as { RepoTags: string[]; Layers: string[] }[];
    expect(manifest.map((m) => m.RepoTags[0])).toEqual(['registry.k8s.io/test/a:1', 'registry.k8s.io/test/b:1']);
    expect(manifest[0]!.Layers).toHaveLength(2);
    expect(manifest[1]!.Layers).toEqual([manifest[0]!.Layers[0]]);
    const { stdout } = await execa('tar', ['-tf', out]);
    expect(stdout.split('\n').filter((l) => l.endsWith('layer.tar'))).toHaveLength(2);
    expect((await readFile(path.join(x, manifest[1]!.Layers[0]!))).equals(await readFile(shared))).toBe(true);
  });
});

describe('debianLayerArgs', () => {
  it('asks mmdebstrap for a tar of the upstream images’ tools, busybox applets only where Debian has no such command', () => {
    const args = debianLayerArgs('bookworm', '/tmp/x.tar');
    expect(args).toContain('--format=tar');
    expect(args.find((a) => a.startsWith('--include='))).toBe('--include=bash,curl,netcat-openbsd,iproute2,iperf,bind9-dnsutils,busybox,wget,iptables,conntrack,nginx-light,procps');
    expect(args.find((a) => a.includes('busybox --list'))).toContain('command -v "$a" >/dev/null 2>&1 || ln -s busybox');
    expect(args.slice(-2)).toEqual(['bookworm', '/tmp/x.tar']);
  });
});
