// proxy/kpng.sh, the `kpng` command as users run it (package.json's bin, the image's
// ENTRYPOINT): it starts node with the proxy's V8 flags and passes the arguments through
// untouched, from the source tree and from the build output, also through a symlink (how
// npm installs a bin), and a semi-space size the user gives in NODE_OPTIONS wins.
import { execa } from 'execa';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const launcher = fileURLToPath(new URL('./kpng.sh', import.meta.url));
const proxyDir = path.dirname(launcher);

let dir: string;
/** A folder whose `node` records its arguments, one a line, in argv.txt. */
let fakeBin: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kpng-launcher-'));
  fakeBin = path.join(dir, 'fake-bin');
  await mkdir(fakeBin);
  await writeFile(path.join(fakeBin, 'node'), `#!/bin/sh\nprintf '%s\\n' "$@" > ${JSON.stringify(path.join(dir, 'argv.txt'))}\n`);
  await chmod(path.join(fakeBin, 'node'), 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function argvOf(file: string, args: string[], env: Record<string, string> = {}): Promise<string[]> {
  await execa(file, args, { env: { PATH: `${fakeBin}:/usr/bin:/bin`, ...env }, extendEnv: false });
  return (await readFile(path.join(dir, 'argv.txt'), 'utf8')).split('\n').slice(0, -1);
}

describe('kpng.sh', () => {
  it('starts node with a semi-space limit, then the source cli.ts and the arguments unchanged', async () => {
    const argv = await argvOf(launcher, ['kube', '--kubeconfig=/a b/c', '', 'to-local']);
    expect(argv[0]).toMatch(/^--max-semi-space-size=\d+$/);
    expect(argv.slice(1)).toEqual([path.join(proxyDir, 'cli.ts'), 'kube', '--kubeconfig=/a b/c', '', 'to-local']);
  });

  it('starts the cli.js beside it when built, also when run through a symlink as npm installs bins', async () => {
    const dist = path.join(dir, 'pkg/dist/proxy');
    await mkdir(dist, { recursive: true });
    await cp(launcher, path.join(dist, 'kpng.sh'));
    await writeFile(path.join(dist, 'cli.js'), '');
    await mkdir(path.join(dir, 'pkg/node_modules/.bin'), { recursive: true });
    const link = path.join(dir, 'pkg/node_modules/.bin/kpng');
    await symlink('../../dist/proxy/kpng.sh', link);
    const argv = await argvOf(link, ['--help']);
    expect(argv[0]).toMatch(/^--max-semi-space-size=\d+$/);
    expect(argv.slice(1)).toEqual([path.join(dist, 'cli.js'), '--help']);
  });

  it('leaves the semi-space size to NODE_OPTIONS when the user sets one there', async () => {
    const argv = await argvOf(launcher, ['--help'], { NODE_OPTIONS: '--max-old-space-size=512 --max-semi-space-size=8' });
    expect(argv).toEqual([path.join(proxyDir, 'cli.ts'), '--help']);
  });

  it('runs the real proxy: node accepts the flag and kpng answers --help', async () => {
    const nodeDir = path.dirname(process.execPath);
    const result = await execa(launcher, ['--help'], { env: { PATH: `${nodeDir}:/usr/bin:/bin` }, extendEnv: false, reject: false });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^usage: kpng <source>/m);
  });
});
