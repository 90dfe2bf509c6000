// Container images for the netns cluster, written as docker-archive tars by this module
// alone: no daemon, no registry. A layer is a plain tar of a staging folder (GNU tar,
// sorted, owner 0, mtime 0, so the same input gives the same digest); the archive holds
// it beside its image config and a manifest.json naming the image, which
// `ctr -n k8s.io images import` reads. Each image carries the exact name kubelet and the
// upstream e2e suite use, so nothing is ever pulled.
//
//   pause    registry.k8s.io/pause:3.10.1: a static build (gcc -static) of Kubernetes' own
//            build/pause/linux/pause.c from the pinned module; busybox `sleep` when gcc or
//            the source is missing (it ignores SIGTERM as PID 1: sandboxes stop by SIGKILL).
//   busybox  registry.k8s.io/e2e-test-images/busybox:1.37.0-1: Debian's busybox-static with
//            a link in /bin for every applet.
//   agnhost  registry.k8s.io/e2e-test-images/agnhost:2.56: the pinned agnhost (hack/k8s-binaries.sh)
//            as /agnhost (entrypoint, `pause` by default), agnhost-2, porter's certificates,
//            /uploads and the image's user and group, on the busybox root. The upstream image
//            also has bash, curl, dig, nc (openbsd), ip and iperf: not here yet.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { processRunner, type Runner } from '../../../proxy/exec.ts';
import { KpngError } from '../../config/index.ts';
import { k8sBinary, k8sVersion } from '../../k8s-binaries.ts';

export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10.1';
export const BUSYBOX_IMAGE = 'registry.k8s.io/e2e-test-images/busybox:1.37.0-1';
export const AGNHOST_IMAGE = 'registry.k8s.io/e2e-test-images/agnhost:2.56';

/** Where Debian's busybox-static puts its binary. */
export const BUSYBOX_BINARY = '/bin/busybox';

export interface ImageConfig {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
}

export interface BuiltImage {
  name: string;
  /** The docker-archive tar. */
  file: string;
  /** How it was made, for logs and reports (e.g. "pause.c, gcc -static"). */
  how: string;
}

function fail(message: string): never {
  throw new KpngError('KPNG_ERR_NETNS_CLUSTER_IMAGE', message);
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

async function run(runner: Runner, file: string, args: string[], cwd?: string): Promise<string> {
  const r = await runner(file, args, cwd === undefined ? {} : { cwd });
  if (r.exitCode !== 0) fail(`${file} ${args.join(' ')} ${r.exitCode === undefined ? `did not run (${r.error ?? 'killed'})` : `exited with ${r.exitCode}`}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** A reproducible tar of everything in `dir` (its top level becomes the image's /). */
async function tarFolder(runner: Runner, dir: string, out: string, members: string[] = ['.']): Promise<void> {
  await run(runner, 'tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--format=gnu', '-C', dir, '-cf', out, ...members]);
}

/**
 * A docker-archive (`docker save` format) of one image with one layer made from `rootfs`,
 * written to `out` (atomically). Returns the image config's digest.
 */
export async function writeDockerArchive(rootfs: string, name: string, config: ImageConfig, out: string, runner: Runner = processRunner()): Promise<string> {
  const work = await mkdtemp(`${out}.work-`);
  try {
    const layerTmp = path.join(work, 'layer.tar');
    await tarFolder(runner, rootfs, layerTmp);
    const layer = await readFile(layerTmp);
    const diffId = sha256(layer);
    const imageConfig = JSON.stringify({
      architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
      os: 'linux',
      config: {
        Env: config.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        ...(config.entrypoint && { Entrypoint: config.entrypoint }),
        ...(config.cmd && { Cmd: config.cmd }),
        ...(config.workingDir && { WorkingDir: config.workingDir }),
      },
      rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'kpng-harness (harness/cluster/netns/images.ts)' }],
      created: '1970-01-01T00:00:00Z',
    });
    const configDigest = sha256(imageConfig);
    const archive = path.join(work, 'archive');
    await mkdir(path.join(archive, diffId), { recursive: true });
    await rename(layerTmp, path.join(archive, diffId, 'layer.tar'));
    await writeFile(path.join(archive, `${configDigest}.json`), imageConfig);
    await writeFile(path.join(archive, 'manifest.json'), JSON.stringify([{ Config: `${configDigest}.json`, RepoTags: [name], Layers: [`${diffId}/layer.tar`] }]));
    await tarFolder(runner, archive, path.join(work, 'image.tar'), ['manifest.json', `${configDigest}.json`, diffId]);
    await rename(path.join(work, 'image.tar'), out);
    return configDigest;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A file of the pinned Kubernetes source in the Go module cache (where hack/k8s-binaries.sh's build leaves it). */
async function kubernetesSource(runner: Runner, file: string): Promise<string | undefined> {
  const r = await runner('go', ['env', 'GOMODCACHE'], {});
  const candidates = [r.exitCode === 0 ? r.stdout.trim() : '', path.join(process.env.HOME ?? '/root', 'go/pkg/mod')].filter((d) => d !== '');
  for (const modcache of candidates) {
    const found = path.join(modcache, `k8s.io/kubernetes@${k8sVersion()}`, file);
    if (existsSync(found)) return found;
  }
  return undefined;
}

async function stageBusybox(root: string, runner: Runner): Promise<void> {
  if (!existsSync(BUSYBOX_BINARY)) fail(`${BUSYBOX_BINARY} is missing: install Debian's busybox-static (hack/install-system-deps.sh)`);
  await mkdir(path.join(root, 'bin'), { recursive: true });
  for (const d of ['etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'var/run']) await mkdir(path.join(root, d), { recursive: true });
  await copyFile(BUSYBOX_BINARY, path.join(root, 'bin/busybox'));
  const applets = (await run(runner, BUSYBOX_BINARY, ['--list'])).split('\n').filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox');
  for (const applet of applets) await symlink('busybox', path.join(root, 'bin', applet));
  await writeFile(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  await writeFile(path.join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
}

/** The busybox image's root: busybox and its applet links. */
async function buildBusybox(out: string, runner: Runner): Promise<string> {
  const root = await mkdtemp(`${out}.root-`);
  try {
    await stageBusybox(root, runner);
    await writeDockerArchive(root, BUSYBOX_IMAGE, { cmd: ['sh'] }, out, runner);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return `Debian busybox-static (${BUSYBOX_BINARY})`;
}

async function buildPause(out: string, runner: Runner): Promise<string> {
  const root = await mkdtemp(`${out}.root-`);
  try {
    const source = await kubernetesSource(runner, 'build/pause/linux/pause.c');
    const gcc = (await runner('gcc', ['--version'], {})).exitCode === 0;
    let how: string;
    let config: ImageConfig;
    if (source && gcc) {
      const version = PAUSE_IMAGE.split(':').pop()!;
      await run(runner, 'gcc', ['-Os', '-static', '-Wall', '-Werror', `-DVERSION=v${version}`, '-o', path.join(root, 'pause'), source]);
      await run(runner, 'strip', [path.join(root, 'pause')]);
      config = { entrypoint: ['/pause'] };
      how = `Kubernetes' build/pause/linux/pause.c (${source}), gcc -static`;
    } else {
      await stageBusybox(root, runner);
      config = { entrypoint: ['/bin/sleep', 'infinity'] };
      how = `busybox sleep (${!gcc ? 'gcc is missing' : 'pause.c not in the Go module cache'})`;
    }
    await writeDockerArchive(root, PAUSE_IMAGE, config, out, runner);
    return how;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function buildAgnhost(out: string, runner: Runner): Promise<string> {
  const binary = k8sBinary('agnhost');
  if (!existsSync(binary)) fail(`${binary} is missing: run hack/k8s-binaries.sh --only cluster`);
  const root = await mkdtemp(`${out}.root-`);
  try {
    await stageBusybox(root, runner);
    await copyFile(binary, path.join(root, 'agnhost'));
    await symlink('agnhost', path.join(root, 'agnhost-2'));
    await mkdir(path.join(root, 'uploads'));
    for (const name of ['localhost.crt', 'localhost.key']) {
      const cert = await kubernetesSource(runner, `test/images/agnhost/porter/${name}`);
      if (cert) await copyFile(cert, path.join(root, name));
    }
    await writeFile(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
    await writeFile(path.join(root, 'etc/group'), 'root:x:0:\nuser-defined-in-image:x:1000:\ngroup-defined-in-image:x:50000:user-defined-in-image\nnogroup:x:65534:\n');
    await writeDockerArchive(root, AGNHOST_IMAGE, { entrypoint: ['/agnhost'], cmd: ['pause'] }, out, runner);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return `agnhost ${binary} on the busybox root (no bash, curl, dig, iproute2, iperf yet)`;
}

/** Builders by image name. */
const builders: Record<string, (out: string, runner: Runner) => Promise<string>> = {
  [PAUSE_IMAGE]: buildPause,
  [BUSYBOX_IMAGE]: buildBusybox,
  [AGNHOST_IMAGE]: buildAgnhost,
};

export const buildableImages = Object.keys(builders);

function fileNameFor(image: string): string {
  return `${image.replace(/[^a-zA-Z0-9.-]+/g, '_')}.tar`;
}

/**
 * The image tars in `dir` (built when missing; `rebuild` builds them again). A `.how` file
 * beside each tar says how it was made.
 */
export async function ensureImages(dir: string, images: readonly string[] = buildableImages, opts: { runner?: Runner; rebuild?: boolean; log?: (line: string) => void } = {}): Promise<BuiltImage[]> {
  const runner = opts.runner ?? processRunner();
  await mkdir(dir, { recursive: true });
  const out: BuiltImage[] = [];
  for (const name of images) {
    const build = builders[name];
    if (!build) fail(`no builder for image ${name}; accepted: ${buildableImages.join(', ')}`);
    const file = path.join(dir, fileNameFor(name));
    const howFile = `${file}.how`;
    if (opts.rebuild || !existsSync(file) || !existsSync(howFile)) {
      opts.log?.(`images: building ${name}`);
      const how = await build(file, runner);
      await writeFile(howFile, `${how}\n`);
    }
    out.push({ name, file, how: (await readFile(howFile, 'utf8')).trim() });
  }
  return out;
}
