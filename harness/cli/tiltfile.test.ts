// The Tiltfile, checked without Tilt: the kpng-harness commands it runs exist and print
// what it reads (tilt.env through the validating reader; the DaemonSet whose image is the
// one docker_build builds), and docker_build watches every file the Dockerfile copies,
// so a change to the proxy's code rebuilds and redeploys.
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { clusterNetworks } from '../cluster/index.ts';
import { backendNames, formatTiltEnv, tiltEnvFor, withClusterCIDRs } from '../config/index.ts';
import { repoRoot } from '../k8s-binaries.ts';
import { commands } from './main.ts';

const tiltfile = await readFile(path.join(repoRoot, 'Tiltfile'), 'utf8');
const code = tiltfile
  .split('\n')
  .filter((line) => !line.trim().startsWith('#'))
  .join('\n');
const stringList = (text: string) => [...text.matchAll(/'([^']*)'/g)].map((m) => m[1] ?? '');

const harness = stringList(/^HARNESS = \[([^\]]*)\]/m.exec(code)?.[1] ?? '');
const harnessCommands = [...code.matchAll(/HARNESS \+ \[([^\]]*)\]/g)].map((m) => stringList(m[1] ?? ''));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kpng-tiltfile-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Run a Tiltfile `local(HARNESS + [...])` the way Tilt does, with tilt.env in `cwd`. */
async function local(args: string[], cwd: string) {
  const [node = '', script = ''] = harness;
  return execa(path.join(repoRoot, node), [path.join(repoRoot, script), ...args], { cwd, reject: false });
}

// Each case starts kpng-harness (and it the proxy, to learn its backends and flags): allow for a loaded machine.
vi.setConfig({ testTimeout: 60_000 });

describe('the Tiltfile', () => {
  it('runs kpng-harness with the project node, and only commands kpng-harness has', () => {
    expect(harness).toEqual(['node_modules/.bin/node', 'harness/cli.ts']);
    for (const file of harness) expect(existsSync(path.join(repoRoot, file)), file).toBe(true);
    expect(harnessCommands).toEqual([['tilt-env'], ['tilt-manifests']]);
    for (const [name] of harnessCommands) expect(Object.keys(commands)).toContain(name);
    expect(code).not.toMatch(/dotenv\(/);
  });

  it("reads tilt.env through the validating reader and deploys the DaemonSet with docker_build's image", async () => {
    const work = await mkdtemp(path.join(dir, 'work-'));
    const env = tiltEnvFor({ backend: 'nft', family: 'dual', model: 'split-process-per-node', image: 'localhost:5001/kpng:tilt', clusterName: 'kpng-dev' });
    await writeFile(path.join(work, 'tilt.env'), formatTiltEnv(env));

    const settings = await local(['tilt-env'], work);
    expect(settings.exitCode).toBe(0);
    const parsed = JSON.parse(settings.stdout) as Record<string, string>;
    expect(parsed).toMatchObject({ image: 'localhost:5001/kpng:tilt', clusterName: 'kpng-dev', context: 'kind-kpng-dev', apiServer: 'https://kpng-dev-control-plane:6443' });
    for (const key of code.matchAll(/settings\['(\w+)'\]/g)) expect(parsed, `settings['${key[1]}']`).toHaveProperty(key[1] ?? '');

    const manifests = await local(['tilt-manifests'], work);
    expect(manifests.exitCode).toBe(0);
    const docs = parseAllDocuments(manifests.stdout).map(
      (d) => d.toJS() as { kind: string; metadata: { name: string }; spec: { template: { spec: { containers: { image: string; args: string[] }[] } } } },
    );
    expect(docs.map((d) => d.kind)).toEqual(['DaemonSet']);
    const resource = /k8s_resource\('([^']+)'/.exec(code)?.[1];
    expect(docs[0]?.metadata.name).toBe(resource);
    const containers = docs[0]?.spec.template.spec.containers ?? [];
    expect(containers.map((c) => c.image)).toEqual(['localhost:5001/kpng:tilt', 'localhost:5001/kpng:tilt']);
    expect(containers[1]?.args).toEqual(withClusterCIDRs({ backend: env.backendArgs, server: [] }, 'nft', clusterNetworks.dual.podCIDRs).backend);
  });

  it('fails the Tiltfile load (non-zero, the reason on stderr) when tilt.env is not valid', async () => {
    const work = await mkdtemp(path.join(dir, 'bad-'));
    await writeFile(path.join(work, 'tilt.env'), 'backend=nftables\n');
    const result = await local(['tilt-env'], work);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`tilt.env:1: backend: "nftables" is not accepted (did you mean "nft"?); accepted: one of ${backendNames().join(', ')}`);
  });

  it('rebuilds the image when any file the Dockerfile copies changes, from proxy/Dockerfile', async () => {
    const dockerfile = await readFile(path.join(repoRoot, 'proxy/Dockerfile'), 'utf8');
    const copied = dockerfile
      .split('\n')
      .filter((line) => /^COPY /.test(line) && !line.includes('--from='))
      .flatMap((line) => line.split(/\s+/).slice(1, -1))
      .map((source) => source.replace(/\/$/, ''));
    const build = /docker_build\(([\s\S]*?)\n\)/.exec(code)?.[1] ?? '';
    expect(build).toContain("settings['image']");
    expect(build).toContain("dockerfile = 'proxy/Dockerfile'");
    const only = stringList(/only = \[([\s\S]*?)\]/.exec(build)?.[1] ?? '');
    expect(only.sort()).toEqual([...new Set(copied)].sort());
    for (const file of only) expect(existsSync(path.join(repoRoot, file)), file).toBe(true);
    for (const [, watched] of code.matchAll(/watch_file\('([^']+)'\)/g)) {
      if (watched !== 'tilt.env') expect(existsSync(path.join(repoRoot, watched ?? '')), watched).toBe(true);
    }
  });
});
