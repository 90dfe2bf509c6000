// proxy/Dockerfile, checked without a Docker engine: its base images run the Node.js the
// project locks, its runtime image has the dataplane tools the backends drive, everything
// it copies exists and passes .dockerignore, and what the compiled proxy reads at run time
// is copied beside it. (Building and running the image needs Docker: `make image`.)
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registeredBackends } from './backends/registry.ts';

const repo = fileURLToPath(new URL('../', import.meta.url));
const read = (file: string) => readFile(path.join(repo, file), 'utf8');

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  name: string;
  image: string;
  instructions: Instruction[];
}

/** Instructions with continuation lines joined, comments dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: Instruction | undefined;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line.startsWith('#') || (pending === undefined && line === '')) return;
    const continued = line.endsWith('\\');
    const body = continued ? line.slice(0, -1).trim() : line;
    if (pending === undefined) {
      const [keyword = '', ...rest] = body.split(/\s+/);
      pending = { keyword: keyword.toUpperCase(), args: rest.join(' '), line: index + 1 };
    } else {
      pending.args = `${pending.args} ${body}`.trim();
    }
    if (!continued) {
      out.push(pending);
      pending = undefined;
    }
  });
  return out;
}

function parseDockerfile(text: string): { globalArgs: Map<string, string>; stages: Stage[] } {
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of instructions(text)) {
    if (instruction.keyword === 'FROM') {
      const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!match) throw new Error(`line ${instruction.line}: cannot read FROM ${instruction.args}`);
      const image = (match[1] ?? '').replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => {
        const name = a ?? b ?? '';
        const value = globalArgs.get(name);
        if (value === undefined) throw new Error(`line ${instruction.line}: FROM uses ${name}, which no ARG before the first FROM sets`);
        return value;
      });
      stages.push({ name: match[2] ?? String(stages.length), image, instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG') throw new Error(`line ${instruction.line}: only ARG may come before FROM`);
      const [name = '', value = ''] = instruction.args.split('=');
      globalArgs.set(name, value);
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

interface Copy {
  from?: string;
  sources: string[];
  dest: string;
}

function copies(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')
    .map((i) => {
      const words = i.args.split(/\s+/);
      const from = words.find((f) => f.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((w) => !w.startsWith('--'));
      return { ...(from ? { from } : {}), sources: paths.slice(0, -1), dest: paths.at(-1) ?? '' };
    });
}

/** A .dockerignore pattern as a regular expression: Go's filepath.Match (`*` and `?` stay within a folder, and match dot files) plus `**`. */
function dockerPattern(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '*' && pattern[i + 1] === '*') {
      source += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** Docker's .dockerignore rule: the last pattern that matches the path or one of its parent folders decides. */
function dockerIgnored(patterns: readonly string[], file: string): boolean {
  let ignored = false;
  const candidates = file.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = dockerPattern(path.posix.normalize(negated ? raw.slice(1) : raw).replace(/\/$/, ''));
    if (candidates.some((candidate) => pattern.test(candidate))) ignored = !negated;
  }
  return ignored;
}

async function repoFiles(): Promise<string[]> {
  const { stdout } = await execa('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: repo });
  return stdout.split('\n').filter((f) => f !== '' && existsSync(path.join(repo, f)));
}

const dockerfile = parseDockerfile(await read('proxy/Dockerfile'));
const packageJson = JSON.parse(await read('package.json')) as {
  type?: string;
  engines: { node: string };
  bin: Record<string, string>;
  scripts: Record<string, string>;
};
const lock = JSON.parse(await read('package-lock.json')) as { packages: Record<string, { version?: string }> };
const ignorePatterns = (await read('.dockerignore'))
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
/** The folders tsconfig.build.json leaves out of the build (test and benchmark support); the context need not carry them. */
const buildExcludedFolders = (JSON.parse(await read('tsconfig.build.json')) as { exclude: string[] }).exclude.filter((e) => !e.includes('*'));
const stage = (name: string): Stage => {
  const found = dockerfile.stages.find((s) => s.name === name);
  if (!found) throw new Error(`proxy/Dockerfile has no stage ${name}`);
  return found;
};

describe('the base images', () => {
  it('are two stages, build and runtime, both on the slim Node.js image of the locked version', () => {
    expect(dockerfile.stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    const locked = lock.packages['node_modules/node']?.version;
    expect(locked).toMatch(/^\d+\.\d+\.\d+$/);
    expect(dockerfile.globalArgs.get('NODE_VERSION')).toBe(locked);
    for (const s of dockerfile.stages) expect(s.image).toBe(`node:${locked}-${dockerfile.globalArgs.get('DEBIAN_RELEASE')}-slim`);
  });

  it("run a Node.js that package.json's engines accept", () => {
    const [major] = (dockerfile.globalArgs.get('NODE_VERSION') ?? '').split('.').map(Number);
    const range = /^>=(\d+) <(\d+)$/.exec(packageJson.engines.node);
    expect(range, `engines.node ${packageJson.engines.node} has the form ">=A <B"`).not.toBeNull();
    expect(major).toBeGreaterThanOrEqual(Number(range?.[1]));
    expect(major).toBeLessThan(Number(range?.[2]));
  });
});

describe('the runtime image', () => {
  it("asks hack/install-system-deps.sh for every package a backend's descriptor needs, so this machine runs what the image runs", async () => {
    const script = await read('hack/install-system-deps.sh');
    const machine = [...script.matchAll(/need\+=\(([\w.-]+)\)/g)].map((m) => m[1] ?? '');
    for (const d of registeredBackends) for (const pkg of d.pod.packages) expect(machine, `${d.name} needs ${pkg}`).toContain(pkg);
  });

  it("installs exactly the packages the registered backends' descriptors ask for (pod.packages), as `kpng backends --packages` prints them: the build stage writes the list, the runtime stage copies it and apt-get installs from it", async () => {
    // The command prints the union of the descriptors' packages, in registry order.
    const printed = await execa(process.execPath, [path.join(repo, 'proxy/cli.ts'), 'backends', '--packages'], { env: { KPNG_LOG_LEVEL: 'warn' } });
    const wanted = [...new Set(registeredBackends.flatMap((d) => d.pod.packages))];
    expect(printed.stdout.trim().split(' ')).toEqual(wanted);
    // The build stage writes that list to a file...
    const written = stage('build')
      .instructions.filter((i) => i.keyword === 'RUN')
      .flatMap((i) => [...i.args.matchAll(/\S*cli\.js backends --packages > (\S+)/g)].map((m) => m[1] ?? ''));
    expect(written, 'the build stage runs `cli.js backends --packages > FILE`').toHaveLength(1);
    const list = written[0]!;
    // ...the runtime stage copies it from there before installing, and apt-get installs what it holds, and nothing else.
    const runtime = stage('runtime');
    const copy = copies(runtime).find((c) => c.from === 'build' && c.sources.includes(list));
    expect(copy, `the runtime stage copies ${list} from the build stage`).toBeDefined();
    const copied = copy!.dest.endsWith('/') ? path.posix.join(copy!.dest, path.posix.basename(list)) : copy!.dest;
    const install = runtime.instructions.find((i) => i.keyword === 'RUN' && i.args.includes('apt-get install'));
    expect(install, 'the runtime stage runs apt-get install').toBeDefined();
    expect(runtime.instructions.indexOf(runtime.instructions.find((i) => i.keyword === 'COPY' && i.args.includes(list))!)).toBeLessThan(runtime.instructions.indexOf(install!));
    const words = install!.args.split(/\s+/);
    const installed = words.slice(words.indexOf('--no-install-recommends') + 1, words.indexOf('&&', words.indexOf('--no-install-recommends')));
    expect(installed.join(' ')).toBe(`$(cat ${copied})`);
  });

  it("starts the proxy's bin (the launcher that gives node its flags), from the folder the build stage compiles it to, as an ES module", () => {
    const runtime = stage('runtime');
    const workdir = runtime.instructions.find((i) => i.keyword === 'WORKDIR')?.args ?? '';
    const entrypoint = JSON.parse(runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT')?.args ?? '[]') as string[];
    // Exactly the bin, with nothing before it: the launcher alone decides node's flags.
    expect(entrypoint).toEqual([path.posix.join(workdir, packageJson.bin.kpng ?? '')]);
    expect(packageJson.bin.kpng).toBe('dist/proxy/kpng.sh');
    expect(runtime.instructions.some((i) => i.keyword === 'ENV' && i.args.includes('NODE_OPTIONS')), 'NODE_OPTIONS would replace the launcher\'s flags').toBe(false);
    const fromBuild = copies(runtime).filter((c) => c.from === 'build');
    expect(fromBuild.map((c) => c.sources[0]).filter((f) => !f?.endsWith('.txt'))).toEqual(['/src/package.json', '/src/node_modules/', '/src/dist/proxy/']);
    // package.json comes along because its "type" makes node load dist/**/*.js as ES modules.
    expect(packageJson.type).toBe('module');
  });
});

describe('the build stage', () => {
  it('copies what npm run build reads: the tsconfig chain and every file its script names', async () => {
    const copied = new Set(copies(stage('build')).flatMap((c) => c.sources.map((s) => s.replace(/\/$/, ''))));
    const named = (packageJson.scripts.build ?? '').split(/\s+/).filter((w) => /^[\w./-]+\.(json|sh|ts)$/.test(w));
    const chain: string[] = [];
    for (let config = named.find((w) => w.startsWith('tsconfig')); config; ) {
      chain.push(config);
      const parsed = JSON.parse(await read(config)) as { extends?: string };
      config = parsed.extends?.replace(/^\.\//, '');
    }
    expect(chain).toEqual(['tsconfig.build.json', 'tsconfig.json']);
    for (const file of new Set([...named, ...chain, 'package.json', 'package-lock.json'])) {
      expect(copied, `the build stage copies ${file}`).toContain(file);
    }
    expect(copied).toContain('proxy');
  });
});

describe('the build context', () => {
  it('has every file the Dockerfile copies, and .dockerignore lets each one through', async () => {
    const files = await repoFiles();
    const sources = copies(stage('build')).flatMap((c) => c.sources.map((s) => s.replace(/\/$/, '')));
    for (const source of sources) {
      const under = files.filter((f) => f === source || f.startsWith(`${source}/`));
      expect(under.length, `${source} exists in the repository`).toBeGreaterThan(0);
      const needed = under.filter((f) => !/\.(test|bench|testkit)\.ts$/.test(f) && !f.includes('/testdata/') && !f.includes('/__snapshots__/') && !buildExcludedFolders.some((d) => f.startsWith(`${d}/`)));
      for (const file of needed) expect(dockerIgnored(ignorePatterns, file), `${file} reaches the build`).toBe(false);
    }
    expect(dockerIgnored(ignorePatterns, 'proxy/api/localv1.proto')).toBe(false);
  });

  it('leaves out everything else: dependencies, build output, caches, tests and the harness', () => {
    for (const file of ['node_modules/execa/package.json', 'dist/proxy/cli.js', '.cache/k8s/v1.34.4/bin/etcd', 'harness/cli.ts', 'proxy/cli.test.ts', 'proxy/backends/conformance/cluster.testkit.ts', 'tilt.env', 'README.md']) {
      expect(dockerIgnored(ignorePatterns, file), `${file} stays out of the build context`).toBe(true);
    }
  });
});

describe('test support beside the code', () => {
  it("a backend folder's *.testkit.ts reaches the harness only through proxy/backends/conformance (the suite's folder), never by itself", async () => {
    const kits = (await repoFiles()).filter((f) => f.startsWith('proxy/') && f.endsWith('.testkit.ts') && !buildExcludedFolders.some((d) => f.startsWith(`${d}/`)));
    expect(kits.length).toBeGreaterThan(0);
    const importsHarness = (text: string) => /from\s+'(?:\.\.\/)+harness\//.test(text);
    const offenders: string[] = [];
    for (const kit of kits) if (importsHarness(await read(kit))) offenders.push(kit);
    expect(offenders).toEqual([]);
  });
});

describe('the build stage compiles from the build context alone', () => {
  let context: string;
  beforeAll(async () => {
    context = await mkdtemp(path.join(tmpdir(), 'kpng-context-'));
  });
  afterAll(async () => {
    await rm(context, { recursive: true, force: true });
  });

  it('npm run build\'s tsc takes what .dockerignore lets through (no harness/): the proxy imports nothing outside it', { timeout: 180_000 }, async () => {
    for (const file of (await repoFiles()).filter((f) => !dockerIgnored(ignorePatterns, f))) {
      await mkdir(path.join(context, path.dirname(file)), { recursive: true });
      await cp(path.join(repo, file), path.join(context, file));
    }
    expect(existsSync(path.join(context, 'harness'))).toBe(false);
    await symlink(path.join(repo, 'node_modules'), path.join(context, 'node_modules'));
    const tsc = await execa(path.join(repo, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json', '--noEmit'], { cwd: context, reject: false });
    expect(tsc.stdout + tsc.stderr, 'tsc in the build context').toBe('');
    expect(tsc.exitCode).toBe(0);
  });
});

describe('hack/copy-build-assets.sh (npm run build, in the image and in dist/)', () => {
  let out: string;
  beforeAll(async () => {
    out = await mkdtemp(path.join(tmpdir(), 'kpng-assets-'));
  });
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('puts beside the compiled modules every file the code opens relative to itself (copied, or compiled by a script of npm run build)', { timeout: 120_000 }, async () => {
    const result = await execa(path.join(repo, 'hack/copy-build-assets.sh'), [out], { cwd: repo });
    expect(result.stdout).toMatch(/^copy-build-assets: \d+ file\(s\) into /);
    // The build's other asset scripts (e.g. compilers of non-TypeScript sources) write into the same output.
    const scripts = (packageJson.scripts.build ?? '').split(/\s+/).filter((w) => /^hack\/[\w.-]+\.sh$/.test(w) && w !== 'hack/copy-build-assets.sh');
    for (const script of scripts) await execa(path.join(repo, script), [out], { cwd: repo });
    const made = async (dir: string) => (existsSync(path.join(out, dir)) ? await readdir(path.join(out, dir)) : []);
    const sources = (await repoFiles()).filter((f) => /^(proxy|harness)\/.*\.ts$/.test(f) && !/\.(test|bench|testkit)\.ts$/.test(f));
    const wanted: string[] = [];
    for (const file of sources) {
      const text = await read(file);
      for (const match of text.matchAll(/new URL\(\s*[`'"](\.\.?\/[^`'"]+)[`'"]\s*,\s*import\.meta\.url/g)) {
        const relative = match[1] ?? '';
        // Modules, folders and the project's own node are not build assets.
        if (/\.(ts|js)$|\/$|\$\{\w+\}\$\{\w+\}$/.test(relative) || relative.includes('node_modules')) continue;
        const pattern = path.posix.join(path.posix.dirname(file), relative).replace(/\$\{[^}]+\}/g, '*');
        const dir = path.posix.dirname(pattern);
        const present = [...(existsSync(path.join(repo, dir)) ? await readdir(path.join(repo, dir)) : []), ...(await made(dir))];
        const matches = present.map((name) => `${dir}/${name}`).filter((candidate) => path.matchesGlob(candidate, pattern));
        expect(matches.length, `${file} reads ${relative}, which exists`).toBeGreaterThan(0);
        wanted.push(...new Set(matches));
      }
    }
    // The bin: the launcher, executable, beside the cli.js that tsc compiles.
    expect(packageJson.bin.kpng).toBe('dist/proxy/kpng.sh');
    wanted.push('proxy/kpng.sh');
    expect(((await stat(path.join(out, 'proxy/kpng.sh'))).mode & 0o111).toString(8)).toBe('111');
    expect(wanted).toContain('proxy/api/localv1.proto');
    expect(wanted).toContain('harness/manifests/templates/daemonset.yaml.hbs');
    for (const file of wanted) expect(existsSync(path.join(out, file)), `${file} is copied into the build output`).toBe(true);
  });
});
