// The kpng image for netns clusters, written without a daemon from the inputs
// proxy/Dockerfile uses: a Debian root made by mmdebstrap with exactly the packages the
// registered backends drive (`kpng backends --packages`), the project's Node.js (the npm
// package node@24, node_modules/.bin/node) as /usr/local/bin/node, and /opt/kpng holding
// package.json, the production node_modules (`npm ls --omit=dev`) and `npm run build`'s
// dist/proxy (with the compiled eBPF programs: built as the Dockerfile builds them); entrypoint dist/proxy/kpng.sh, root, NODE_ENV=production — what the
// Dockerfile's runtime stage holds. The Debian layer is kept per release and package list;
// the archive is named by the digest of both layers' bytes (never of a path: the staging
// folder is a fresh temporary one each time), so the same inputs give the same name and,
// the layers being reproducible tars, the same bytes: a second write is found, not redone.
import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { processRunner, type Runner } from '../../../proxy/exec.ts';
import { KpngError } from '../../config/index.ts';
import { repoRoot } from '../../k8s-binaries.ts';
import { projectNode } from '../../lab/netns/index.ts';
import { debianRootLayer, sha256File, writeImageArchive, type BuiltImage } from './images.ts';

/** How long an earlier kpng archive stays beside a new one (another checkout may still import it). */
const KEEP_EARLIER_ARCHIVES_MS = 3600_000;

export const KPNG_NETNS_IMAGE = 'localhost/kpng:netns';

const fail = (message: string): never => {
  throw new KpngError('KPNG_ERR_NETNS_CLUSTER_IMAGE', message);
};

/**
 * The environment of the image's `npm run build`, as proxy/Dockerfile's build stage sets it:
 * KPNG_BPF_REQUIRED=1, so a missing compiler fails the build instead of leaving an image
 * without the eBPF programs (hack/build-bpf.sh).
 */
export const IMAGE_BUILD_ENV: Readonly<Record<string, string>> = { KPNG_BPF_REQUIRED: '1' };

async function must(runner: Runner, file: string, args: string[], what: string, cwd = repoRoot, timeoutMs = 15 * 60_000, env: Record<string, string> = {}): Promise<string> {
  const r = await runner(file, args, { cwd, timeoutMs, env: { ...process.env, ...env, PATH: `${path.join(repoRoot, 'node_modules/.bin')}:${process.env.PATH ?? ''}` } });
  if (r.exitCode !== 0) fail(`${what}: ${file} ${args.join(' ')} exited with ${r.exitCode ?? r.error ?? 'a signal'}: ${(r.stderr || r.stdout).trim().split('\n').slice(-15).join('\n')}`);
  return r.stdout;
}

/** The production packages' folders (`npm ls --parseable` lines) as node_modules/..., outermost only (node_modules may be a link elsewhere). */
export function productionModules(parseable: string): string[] {
  const rel = parseable
    .split('\n')
    .map((l) => l.trim())
    .map((l) => (l.includes('/node_modules/') ? l.slice(l.indexOf('/node_modules/') + 1) : ''))
    .filter((l) => l !== '')
    .sort();
  return rel.filter((p, i) => !rel.slice(0, i).some((outer) => p.startsWith(`${outer}/`)));
}

/** What the kpng image is made of, besides the Debian layer: all of it read from `root` but Node.js. */
export interface KpngImageInputs {
  /** The Debian root layer (a tar, debianRootLayer's) and how it was made. */
  layer: { file: string; how: string };
  /** The Node.js binary, copied to /usr/local/bin/node. */
  node: string;
  /** The checkout holding package.json, dist/proxy and `modules`. */
  root: string;
  /** The production packages' folders, relative to `root` (productionModules). */
  modules: readonly string[];
}

/** The archive's file name: the digest of both layers' bytes. */
export async function kpngArchiveName(layerTar: string, appTar: string): Promise<string> {
  const hash = createHash('sha256').update('kpng v2\n');
  for (const tar of [layerTar, appTar]) hash.update(`${await sha256File(tar)}\n`);
  return `kpng-${hash.digest('hex').slice(0, 16)}.tar`;
}

/** Writes (or finds) the kpng image's archive in `dir` from its inputs, named by kpngArchiveName. */
export async function writeKpngArchive(dir: string, inputs: KpngImageInputs, opts: { runner?: Runner; log?: (line: string) => void } = {}): Promise<BuiltImage> {
  const runner = opts.runner ?? processRunner();
  const log = opts.log ?? (() => {});
  const { layer, node, root: repo, modules } = inputs;
  const work = await mkdtemp(path.join(dir, '.kpng-stage-'));
  try {
    const root = path.join(work, 'root');
    const app = path.join(root, 'opt/kpng');
    await mkdir(path.join(root, 'usr/local/bin'), { recursive: true });
    await mkdir(app, { recursive: true });
    await copyFile(realpathSync(node), path.join(root, 'usr/local/bin/node'));
    await chmod(path.join(root, 'usr/local/bin/node'), 0o755);
    await copyFile(path.join(repo, 'package.json'), path.join(app, 'package.json'));
    const copy = async (members: readonly string[]) => {
      await must(runner, 'bash', ['-c', `tar -C "$1" -cf - "\${@:2}" | tar -C "$0" -xf -`, app, repo, ...members], 'copying the proxy into the image', repo);
    };
    await copy(['dist/proxy']);
    await copy(modules);
    const appTar = path.join(work, 'app.tar');
    await must(runner, 'tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--format=gnu', '-C', root, '-cf', appTar, '.'], 'the application layer', repo);
    const file = path.join(dir, await kpngArchiveName(layer.file, appTar));
    const how = `${layer.how}; Node.js ${realpathSync(node)}; npm run build; ${modules.length} production packages`;
    if (!existsSync(file)) {
      log(`kpng image: writing ${path.basename(file)}`);
      await writeImageArchive([{ name: KPNG_NETNS_IMAGE, config: { entrypoint: ['/opt/kpng/dist/proxy/kpng.sh'], workingDir: '/opt/kpng', env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'NODE_ENV=production'] }, layers: [{ tar: layer.file }, { tar: appTar }] }], file, runner);
      // Earlier archives go once they are an hour old: checkouts sharing this folder may be
      // about to import theirs (a run writes it before its cluster is up, imports it after).
      for (const old of (await readdir(dir)).filter((f) => /^kpng-[0-9a-f]+\.tar$/.test(f) && f !== path.basename(file))) {
        const written = await stat(path.join(dir, old)).then((s) => s.mtimeMs, () => Date.now());
        if (Date.now() - written > KEEP_EARLIER_ARCHIVES_MS) await rm(path.join(dir, old), { force: true });
      }
    } else {
      log(`kpng image: ${path.basename(file)} is there (the same layers)`);
    }
    return { name: KPNG_NETNS_IMAGE, file, how };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Builds (or finds) the kpng image's archive in `dir`. */
export async function ensureKpngImage(dir: string, opts: { runner?: Runner; log?: (line: string) => void } = {}): Promise<BuiltImage> {
  const runner = opts.runner ?? processRunner();
  const log = opts.log ?? (() => {});
  await mkdir(dir, { recursive: true });
  const node = projectNode();
  const packages = (await must(runner, node, ['--disable-warning=ExperimentalWarning', path.join(repoRoot, 'proxy/cli.ts'), 'backends', '--packages'], 'listing the backends’ packages')).trim().split(/\s+/).filter((p) => p !== '');
  const layer = await debianRootLayer(dir, 'kpng', packages, runner, log);
  log('kpng image: npm run build');
  await must(runner, 'npm', ['run', 'build', '--silent'], 'building the proxy (npm run build)', repoRoot, 15 * 60_000, { ...IMAGE_BUILD_ENV });
  if (!existsSync(path.join(repoRoot, 'dist/proxy/kpng.sh'))) fail('npm run build left no dist/proxy/kpng.sh');
  // npm ls exits 1 over peer and optional packages it cannot find; what it lists is what is installed.
  const listed = await runner('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: repoRoot, timeoutMs: 120_000 });
  const modules = productionModules(listed.stdout);
  if (modules.length === 0) fail(`npm ls --omit=dev listed no production package (exit ${listed.exitCode ?? listed.error}): ${listed.stderr.trim().split('\n').slice(-5).join('\n')}`);
  return writeKpngArchive(dir, { layer, node, root: repoRoot, modules }, { runner, log });
}
