import { execa } from 'execa';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KpngError } from '../config/index.ts';
import { commandLine, kindCreateClusterCommand } from './commands.ts';
import { CommandFailedError, apiServerFromKubeconfig, createCluster, listClusters, runToolCommand } from './run.ts';
import { dockerDaemonUp, fakeBin as fakeBinIn, recordingRunner } from './testing.ts';
import { MissingToolError, findOnPath, installHint, requireTools } from './tools.ts';

let dir: string;
let emptyDir: string;

const fakeBin = (names: string[], body?: string) => fakeBinIn(dir, names, body);
const fakeRunner = recordingRunner;
const daemonUp = () => dockerDaemonUp;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kpng-tools-'));
  emptyDir = await mkdtemp(path.join(dir, 'empty-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('requireTools', () => {
  it('fails cleanly when a tool is not on PATH: KPNG_ERR_MISSING_TOOL, exit code 2, the tool and how to install it', async () => {
    const { run, calls } = fakeRunner(daemonUp);
    const error = await requireTools(['kind'], { env: { PATH: emptyDir }, run }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingToolError);
    expect(error).toBeInstanceOf(KpngError);
    const missing = error as MissingToolError;
    expect(missing.code).toBe('KPNG_ERR_MISSING_TOOL');
    expect(missing.exitCode).toBe(2);
    expect(missing.tool).toBe('kind');
    expect(missing.hint).toContain('go install sigs.k8s.io/kind@v0.');
    expect(missing.message).toBe(`KPNG_ERR_MISSING_TOOL: kind is not on PATH; ${missing.hint}`);
    expect(calls).toEqual([]);
  });

  it('names every missing tool in one message', async () => {
    const bin = await fakeBin(['docker']);
    const { run } = fakeRunner(daemonUp);
    const error = (await requireTools(['docker', 'kind', 'tilt'], { env: { PATH: bin }, run }).catch((e: unknown) => e)) as MissingToolError;
    expect(error.missing.map((m) => m.tool)).toEqual(['kind', 'tilt']);
    expect(error.message.split('\n')).toEqual([
      'KPNG_ERR_MISSING_TOOL: this needs tools that are not ready:',
      `  - kind is not on PATH; ${installHint('kind')}`,
      `  - tilt is not on PATH; ${installHint('tilt')}`,
    ]);
  });

  it('asks the docker daemon, and says how to start it when it does not answer', async () => {
    const bin = await fakeBin(['docker', 'kind']);
    const { run, calls } = fakeRunner(() => ({ exitCode: 1, stderr: '\nCannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n' }));
    const error = (await requireTools(['docker', 'kind'], { env: { PATH: bin }, run }).catch((e: unknown) => e)) as MissingToolError;
    expect(calls.map((c) => [c.file, ...c.args])).toEqual([[path.join(bin, 'docker'), 'info', '--format', '{{.ServerVersion}}']]);
    expect(error.exitCode).toBe(2);
    expect(error.missing).toEqual([expect.objectContaining({ tool: 'docker', reason: 'daemon-not-answering' })]);
    expect(error.message).toMatch(
      /^KPNG_ERR_MISSING_TOOL: docker is installed but its daemon does not answer \(docker info: Cannot connect to the Docker daemon .*\); start the docker daemon \(sudo systemctl start docker\)/,
    );
  });

  it('returns where each tool is when all are ready', async () => {
    const bin = await fakeBin(['docker', 'kind']);
    const { run } = fakeRunner(daemonUp);
    expect(await requireTools(['docker', 'kind'], { env: { PATH: `${emptyDir}:${bin}` }, run })).toEqual({
      docker: path.join(bin, 'docker'),
      kind: path.join(bin, 'kind'),
    });
  });

  it('skips files that are not executable, and directories', async () => {
    const bin = await fakeBin(['kind']);
    await chmod(path.join(bin, 'kind'), 0o644);
    expect(findOnPath('kind', { PATH: bin })).toBeUndefined();
    expect(findOnPath(path.basename(emptyDir), { PATH: dir })).toBeUndefined();
    expect(findOnPath('kind', {})).toBeUndefined();
  });

  it('gives the kind download for the machine', () => {
    expect(installHint('kind', { platform: 'linux', arch: 'arm64' })).toContain('/kind-linux-arm64');
    expect(installHint('kind', { platform: 'darwin', arch: 'x64' })).toContain('/kind-darwin-amd64');
  });

  it('ends a program with exit code 2 and one clear message when run with a PATH that lacks kind', async () => {
    const door = new URL('./index.ts', import.meta.url).href;
    const script = [
      `import { requireTools } from ${JSON.stringify(door)};`,
      `try { await requireTools(['kind']); } catch (error) { process.stderr.write(error.message + '\\n'); process.exit(error.exitCode ?? 1); }`,
    ].join('\n');
    const child = await execa(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: emptyDir, NODE_OPTIONS: '' },
      extendEnv: false,
      reject: false,
    });
    expect(child.stderr).toMatch(/^KPNG_ERR_MISSING_TOOL: kind is not on PATH; install kind v0\.\d+\.\d+: go install sigs\.k8s\.io\/kind@/);
    expect(child.stderr.trim().split('\n')).toHaveLength(1);
    expect(child.exitCode).toBe(2);
  });
});

describe('runToolCommand', () => {
  it('checks the tools, prints progress, runs the resolved program, returns stdout', async () => {
    const bin = await fakeBin(['docker', 'kind']);
    const env = { PATH: bin };
    const { run, calls } = fakeRunner((call) => (call.args[0] === 'info' ? daemonUp() : { exitCode: 0, stdout: 'kpng-proxy\n' }));
    const log: string[] = [];
    let clock = 1000;
    const clusters = await listClusters({ env, run, log: (l) => log.push(l), now: () => (clock += 1500) });
    expect(clusters).toEqual(['kpng-proxy']);
    expect(calls.map((c) => [path.basename(c.file), ...c.args])).toEqual([
      ['docker', 'info', '--format', '{{.ServerVersion}}'],
      ['kind', 'get', 'clusters'],
    ]);
    expect(calls[1]?.options).toEqual({ env, output: 'capture' });
    expect(log).toEqual(['==> listing kind clusters', '    $ kind get clusters', '==> done in 1.5s: listing kind clusters']);
  });

  it('does not run anything when a tool is missing', async () => {
    const { run, calls } = fakeRunner(daemonUp);
    const command = kindCreateClusterCommand({ name: 'kpng-proxy', configPath: 'x.yaml' });
    await expect(runToolCommand(command, { env: { PATH: emptyDir }, run, log: () => {} })).rejects.toMatchObject({
      code: 'KPNG_ERR_MISSING_TOOL',
      exitCode: 2,
      missing: [expect.objectContaining({ tool: 'docker' }), expect.objectContaining({ tool: 'kind' })],
    });
    expect(calls).toEqual([]);
  });

  it('fails with the command, its exit code and the end of its stderr', async () => {
    const bin = await fakeBin(['docker', 'kind']);
    const { run } = fakeRunner((call) => (call.args[0] === 'info' ? daemonUp() : { exitCode: 1, stderr: 'ERROR: node(s) already exist for a cluster with the name "kpng-proxy"' }));
    const command = kindCreateClusterCommand({ name: 'kpng-proxy', configPath: 'x.yaml' });
    const log: string[] = [];
    const error = (await runToolCommand(command, { env: { PATH: bin }, run, log: (l) => log.push(l), now: () => 0 }).catch((e: unknown) => e)) as CommandFailedError;
    expect(error).toBeInstanceOf(CommandFailedError);
    expect(error.code).toBe('KPNG_ERR_COMMAND_FAILED');
    expect(error.toolExitCode).toBe(1);
    expect(error.command).toBe(commandLine(command));
    expect(error.message).toBe(
      `KPNG_ERR_COMMAND_FAILED: ${commandLine(command)} exited with 1:\nERROR: node(s) already exist for a cluster with the name "kpng-proxy"`,
    );
    expect(log.at(-1)).toBe('==> failed after 0.0s (exit 1): creating kind cluster kpng-proxy (waiting up to 5m for the control plane)');
  });

  it('createCluster writes the family config and passes it to kind', async () => {
    const bin = await fakeBin(['docker', 'kind']);
    const { run, calls } = fakeRunner((call) => (call.args[0] === 'info' ? daemonUp() : { exitCode: 0 }));
    const configDir = path.join(dir, 'configs');
    const { configPath } = await createCluster({ name: 'kpng-e2e-dual-nft', family: 'dual', configDir }, { env: { PATH: bin }, run, log: () => {} });
    expect(configPath).toBe(path.join(configDir, 'kind-kpng-e2e-dual-nft-dual.yaml'));
    expect(await readFile(configPath, 'utf8')).toContain('ipFamily: dual');
    expect(calls[1]?.args).toEqual(['create', 'cluster', '--name', 'kpng-e2e-dual-nft', '--config', configPath, '--wait', '5m']);
    expect(calls[1]?.options.output).toBe('stream');
  });
});

describe('apiServerFromKubeconfig', () => {
  const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: AAAA
    server: https://kpng-proxy-control-plane:6443
  name: kind-kpng-proxy
- cluster:
    server: https://other:6443
  name: other
contexts:
- context:
    cluster: kind-kpng-proxy
    user: kind-kpng-proxy
  name: kind-kpng-proxy
current-context: kind-kpng-proxy
users: []
`;

  it("reads the current context's server", () => {
    expect(apiServerFromKubeconfig(kubeconfig)).toBe('https://kpng-proxy-control-plane:6443');
  });

  it('says what is missing', () => {
    expect(() => apiServerFromKubeconfig(kubeconfig.replace('current-context: kind-kpng-proxy', 'current-context: nope'))).toThrow(
      'KPNG_ERR_KUBECONFIG: cannot find the API server in the kubeconfig: the current context "nope" is not among its contexts',
    );
    expect(() => apiServerFromKubeconfig('clusters: []')).toThrow(/no current-context and not exactly one cluster/);
    expect(() => apiServerFromKubeconfig('a: [')).toThrow(/it is not YAML/);
  });
});
