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
//   the e2e images on one Debian layer: mmdebstrap of the host's Debian release with bash,
//            curl, netcat-openbsd, iproute2, iperf, bind9-dnsutils, wget, iptables, conntrack,
//            nginx-light, procps and busybox (a link for each applet Debian does not ship
//            otherwise: GNU wget stays wget, busybox-static's `wget -T` crashes). Made once per
//            package list and release (debian-<release>-<key>.layer.tar), shared by
//              agnhost:2.56             + /agnhost (entrypoint, `pause`), agnhost-2, /coredns
//                                       (upstream's has one: the DNS specs' server), porter's
//                                       certificates, /uploads, the image's user and group
//              jessie-dnsutils:1.7      + /coredns (as upstream's, which adds a CoreDNS)
//              distroless-iptables:v0.7.14, nginx:1.14-4 (`nginx -g 'daemon off;'`)
//              kube-proxy:<version>     + /usr/local/bin/kube-proxy (the upstream binary)
//            and written with the static ones, regression-issue-74839:1.2 and
//            coredns/coredns:<kubeadm's pin>, into one archive (one import per node), named by
//            the digest of everything it is made from.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { processRunner, type Runner } from '../../../proxy/exec.ts';
import { KpngError } from '../../config/index.ts';
import { k8sBinary, k8sBinDir, k8sVersion } from '../../k8s-binaries.ts';

export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10.1';
export const BUSYBOX_IMAGE = 'registry.k8s.io/e2e-test-images/busybox:1.37.0-1';
export const AGNHOST_IMAGE = 'registry.k8s.io/e2e-test-images/agnhost:2.56';
export const JESSIE_DNSUTILS_IMAGE = 'registry.k8s.io/e2e-test-images/jessie-dnsutils:1.7';
export const DISTROLESS_IPTABLES_IMAGE = 'registry.k8s.io/build-image/distroless-iptables:v0.7.14';
export const NGINX_IMAGE = 'registry.k8s.io/e2e-test-images/nginx:1.14-4';
export const REGRESSION_74839_IMAGE = 'registry.k8s.io/e2e-test-images/regression-issue-74839:1.2';
/** kubeadm's CoreDNS for the pinned Kubernetes (cmd/kubeadm/app/constants: CoreDNSVersion). */
export const COREDNS_IMAGE = 'registry.k8s.io/coredns/coredns:v1.12.1';
export const kubeProxyImage = (version = k8sVersion()) => `registry.k8s.io/kube-proxy:${version}`;

/** What the e2e images' shared Debian layer holds (the upstream images' tools). */
export const DEBIAN_PACKAGES = ['bash', 'curl', 'netcat-openbsd', 'iproute2', 'iperf', 'bind9-dnsutils', 'busybox', 'wget', 'iptables', 'conntrack', 'nginx-light', 'procps'] as const;

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

/** One layer of an image: a folder to tar, or a tar already made (e.g. the shared Debian layer). */
export type LayerSource = { dir: string } | { tar: string };

export interface ArchiveImage {
  name: string;
  config: ImageConfig;
  layers: LayerSource[];
}

/**
 * A docker-archive (`docker save` format) of one or more images, written to `out`
 * (atomically); a layer several images use (the same tar) is stored once. Returns each
 * image's config digest, in order.
 */
export async function writeImageArchive(images: readonly ArchiveImage[], out: string, runner: Runner = processRunner()): Promise<string[]> {
  const work = await mkdtemp(`${out}.work-`);
  try {
    const archive = path.join(work, 'archive');
    await mkdir(archive);
    const diffIdOf = new Map<string, string>();
    const members = new Set<string>(['manifest.json']);
    const layerOf = async (source: LayerSource, n: number): Promise<string> => {
      const key = 'tar' in source ? `tar:${source.tar}` : `dir:${source.dir}`;
      const known = diffIdOf.get(key);
      if (known) return known;
      const tmp = path.join(work, `layer-${n}.tar`);
      if ('tar' in source) await copyFile(source.tar, tmp);
      else await tarFolder(runner, source.dir, tmp);
      const diffId = await sha256File(tmp);
      await mkdir(path.join(archive, diffId), { recursive: true });
      await rename(tmp, path.join(archive, diffId, 'layer.tar'));
      diffIdOf.set(key, diffId);
      members.add(diffId);
      return diffId;
    };
    const manifest: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
    const digests: string[] = [];
    let n = 0;
    for (const image of images) {
      const diffIds: string[] = [];
      for (const layer of image.layers) diffIds.push(await layerOf(layer, n++));
      const { config } = image;
      const imageConfig = JSON.stringify({
        architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
        os: 'linux',
        config: {
          Env: config.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
          ...(config.entrypoint && { Entrypoint: config.entrypoint }),
          ...(config.cmd && { Cmd: config.cmd }),
          ...(config.workingDir && { WorkingDir: config.workingDir }),
        },
        rootfs: { type: 'layers', diff_ids: diffIds.map((d) => `sha256:${d}`) },
        history: diffIds.map(() => ({ created: '1970-01-01T00:00:00Z', created_by: 'kpng-harness (harness/cluster/netns/images.ts)' })),
        created: '1970-01-01T00:00:00Z',
      });
      const configDigest = sha256(imageConfig);
      await writeFile(path.join(archive, `${configDigest}.json`), imageConfig);
      members.add(`${configDigest}.json`);
      manifest.push({ Config: `${configDigest}.json`, RepoTags: [image.name], Layers: diffIds.map((d) => `${d}/layer.tar`) });
      digests.push(configDigest);
    }
    await writeFile(path.join(archive, 'manifest.json'), JSON.stringify(manifest));
    await tarFolder(runner, archive, path.join(work, 'image.tar'), [...members]);
    await rename(path.join(work, 'image.tar'), out);
    return digests;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * A docker-archive of one image with one layer made from `rootfs`, written to `out`
 * (atomically). Returns the image config's digest.
 */
export async function writeDockerArchive(rootfs: string, name: string, config: ImageConfig, out: string, runner: Runner = processRunner()): Promise<string> {
  const [digest] = await writeImageArchive([{ name, config, layers: [{ dir: rootfs }] }], out, runner);
  return digest!;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
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

/** The Debian release of this machine (its os-release), which the Debian layer is made from. */
async function debianRelease(): Promise<string> {
  const text = await readFile('/etc/os-release', 'utf8').catch(() => '');
  return /^VERSION_CODENAME=(\w+)$/m.exec(text)?.[1] ?? 'bookworm';
}

/** mmdebstrap's arguments for a Debian root (minbase + `packages`, no docs, no apt lists) as a tar; its content key is made from them. */
export function mmdebstrapArgs(release: string, out: string, packages: readonly string[], hooks: readonly string[] = []): string[] {
  return [
    '--variant=minbase',
    '--format=tar',
    `--include=${packages.join(',')}`,
    '--dpkgopt=path-exclude=/usr/share/man/*',
    '--dpkgopt=path-exclude=/usr/share/doc/*',
    '--dpkgopt=path-exclude=/usr/share/locale/*',
    ...hooks.map((h) => `--customize-hook=${h}`),
    '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*.log',
    release,
    out,
  ];
}

/** mmdebstrap's arguments for the e2e images' shared layer. */
export function debianLayerArgs(release: string, out: string): string[] {
  // busybox's applets only where Debian has no command of that name (GNU wget, not busybox's).
  const applets = 'for a in $(busybox --list); do command -v "$a" >/dev/null 2>&1 || ln -s busybox "/usr/bin/$a"; done';
  return mmdebstrapArgs(release, out, DEBIAN_PACKAGES, [
    `chroot "$1" sh -c '${applets}'`,
    // The upstream agnhost image's user and group (the security-context specs use them).
    `chroot "$1" sh -c 'echo user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh >> /etc/passwd; echo user-defined-in-image:x:1000: >> /etc/group; echo group-defined-in-image:x:50000:user-defined-in-image >> /etc/group'`,
  ]);
}

/** A Debian root layer (a tar) made by mmdebstrap once per release and argument list: debian-<name>-<release>-<key>.layer.tar in `dir`. */
export async function debianRootLayer(dir: string, name: string, packages: readonly string[], runner: Runner, log?: (line: string) => void, args: (release: string, out: string) => string[] = (r, o) => mmdebstrapArgs(r, o, packages)): Promise<{ file: string; how: string }> {
  const release = await debianRelease();
  const key = sha256(JSON.stringify(args(release, 'OUT'))).slice(0, 16);
  const file = path.join(dir, `debian-${name}-${release}-${key}.layer.tar`);
  const how = `mmdebstrap ${release} minbase + ${packages.join(', ')}`;
  if (existsSync(file)) return { file, how };
  if ((await runner('sh', ['-c', 'command -v mmdebstrap'], {})).exitCode !== 0) fail('mmdebstrap is not installed: run hack/install-system-deps.sh (the images are made on a Debian layer it makes)');
  log?.(`images: making the Debian layer of ${name} (${how}); the first time takes a few minutes`);
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const r = await runner('mmdebstrap', args(release, tmp), { env: { ...process.env, SOURCE_DATE_EPOCH: '0' }, timeoutMs: 30 * 60_000 });
    if (r.exitCode !== 0) fail(`mmdebstrap ${release} exited with ${r.exitCode ?? r.error ?? 'a signal'}: ${(r.stderr || r.stdout).trim().split('\n').slice(-10).join('\n')}`);
    await rename(tmp, file);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  // Older layers of this name (another package list or release) are not used again.
  const prefix = `debian-${name}-`;
  for (const old of (await readdir(dir)).filter((f) => f.startsWith(prefix) && f.endsWith('.layer.tar') && f !== path.basename(file))) await rm(path.join(dir, old), { force: true });
  return { file, how };
}

/** The e2e images' shared Debian layer. */
function debianLayer(dir: string, runner: Runner, log?: (line: string) => void): Promise<{ file: string; how: string }> {
  return debianRootLayer(dir, 'e2e', DEBIAN_PACKAGES, runner, log, debianLayerArgs);
}

/** The binaries the e2e image set adds to the Debian layer or holds alone. */
const E2E_SET_BINARIES = ['agnhost', 'coredns', 'regression-issue-74839', 'kube-proxy'] as const;

/** The images of the e2e set and their layers (staging folders under `work`). */
async function e2eSetImages(layer: string, work: string, runner: Runner): Promise<ArchiveImage[]> {
  const staged = async (name: string, files: Record<string, string>, links: Record<string, string> = {}, dirs: string[] = []): Promise<LayerSource> => {
    const root = path.join(work, name);
    await mkdir(root, { recursive: true });
    for (const d of dirs) await mkdir(path.join(root, d), { recursive: true });
    for (const [to, from] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(root, to)), { recursive: true });
      await copyFile(from, path.join(root, to));
    }
    for (const [to, target] of Object.entries(links)) await symlink(target, path.join(root, to));
    return { dir: root };
  };
  const debian: LayerSource = { tar: layer };
  const certs: Record<string, string> = {};
  for (const name of ['localhost.crt', 'localhost.key']) {
    const cert = await kubernetesSource(runner, `test/images/agnhost/porter/${name}`);
    if (cert) certs[name] = cert;
  }
  return [
    { name: AGNHOST_IMAGE, config: { entrypoint: ['/agnhost'], cmd: ['pause'] }, layers: [debian, await staged('agnhost', { agnhost: k8sBinary('agnhost'), coredns: k8sBinary('coredns'), ...certs }, { 'agnhost-2': 'agnhost' }, ['uploads'])] },
    { name: JESSIE_DNSUTILS_IMAGE, config: { cmd: ['/bin/bash'] }, layers: [debian, await staged('jessie-dnsutils', { coredns: k8sBinary('coredns') })] },
    { name: DISTROLESS_IPTABLES_IMAGE, config: { cmd: ['/bin/sh'] }, layers: [debian] },
    { name: NGINX_IMAGE, config: { cmd: ['nginx', '-g', 'daemon off;'] }, layers: [debian] },
    { name: kubeProxyImage(), config: { entrypoint: ['/usr/local/bin/kube-proxy'] }, layers: [debian, await staged('kube-proxy', { 'usr/local/bin/kube-proxy': k8sBinary('kube-proxy') })] },
    { name: REGRESSION_74839_IMAGE, config: { entrypoint: ['/regression-issue-74839'] }, layers: [await staged('regression', { 'regression-issue-74839': k8sBinary('regression-issue-74839') })] },
    { name: COREDNS_IMAGE, config: { entrypoint: ['/coredns'] }, layers: [await staged('coredns', { coredns: k8sBinary('coredns') }, {}, ['etc/coredns', 'tmp'])] },
  ];
}

/** Builds (or finds) the e2e image set's archive in `dir`, named by the digest of everything it is made from. */
async function ensureE2eSet(dir: string, runner: Runner, opts: { rebuild?: boolean; log?: (line: string) => void }): Promise<{ file: string; how: string }> {
  for (const name of E2E_SET_BINARIES) if (!existsSync(k8sBinary(name))) fail(`${k8sBinary(name)} is missing: run hack/k8s-binaries.sh --only cluster`);
  const layer = await debianLayer(dir, runner, opts.log);
  const hash = createHash('sha256').update(`e2e-set v2\n${path.basename(layer.file)}\n`);
  for (const name of E2E_SET_BINARIES) hash.update(`${name} ${await sha256File(k8sBinary(name))}\n`);
  const file = path.join(dir, `e2e-images-${hash.digest('hex').slice(0, 16)}.tar`);
  const how = `${layer.how}; agnhost, coredns, regression-issue-74839, kube-proxy ${k8sVersion()} from ${k8sBinDir()}`;
  if (!opts.rebuild && existsSync(file)) return { file, how };
  opts.log?.(`images: writing the e2e images (${path.basename(file)})`);
  const work = await mkdtemp(`${file}.stage-`);
  try {
    await writeImageArchive(await e2eSetImages(layer.file, work, runner), file, runner);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  for (const old of (await readdir(dir)).filter((f) => /^e2e-images-.*\.tar$/.test(f) && f !== path.basename(file))) await rm(path.join(dir, old), { force: true });
  return { file, how };
}

/** Builders by image name. */
const builders: Record<string, (out: string, runner: Runner) => Promise<string>> = {
  [PAUSE_IMAGE]: buildPause,
  [BUSYBOX_IMAGE]: buildBusybox,
};

/** The images written together into the e2e set's archive. */
export const e2eSetImageNames = (version = k8sVersion()) => [AGNHOST_IMAGE, JESSIE_DNSUTILS_IMAGE, DISTROLESS_IPTABLES_IMAGE, NGINX_IMAGE, kubeProxyImage(version), REGRESSION_74839_IMAGE, COREDNS_IMAGE];

export const buildableImages = [...Object.keys(builders), ...e2eSetImageNames()];

function fileNameFor(image: string): string {
  return `${image.replace(/[^a-zA-Z0-9.-]+/g, '_')}.tar`;
}

/**
 * The image tars in `dir` (built when missing; `rebuild` builds them again). A `.how` file
 * beside each single-image tar says how it was made. Images of the e2e set share one
 * archive (the same `file`): import each file once.
 */
export async function ensureImages(dir: string, images: readonly string[] = buildableImages, opts: { runner?: Runner; rebuild?: boolean; log?: (line: string) => void } = {}): Promise<BuiltImage[]> {
  const runner = opts.runner ?? processRunner();
  await mkdir(dir, { recursive: true });
  const out: BuiltImage[] = [];
  const setNames = e2eSetImageNames();
  let set: { file: string; how: string } | undefined;
  for (const name of images) {
    if (setNames.includes(name)) {
      set ??= await ensureE2eSet(dir, runner, opts);
      out.push({ name, file: set.file, how: set.how });
      continue;
    }
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
