// kpng-harness as the Makefile runs it: the command lines it gives kind, kubectl, docker and
// tilt (stand-in executables that record their arguments), the files it writes, and the
// clean failures: a missing tool or a bad command line exit 2 with one message.
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { scriptBin } from '../cluster/testing.ts';
import { backendNames, formatTiltEnv, parseTiltEnv, tiltEnvFor } from '../config/index.ts';
import { clusterNetworks } from '../cluster/index.ts';
import { repoRoot } from '../k8s-binaries.ts';
import type { CliContext } from './context.ts';
import { main } from './main.ts';

const cli = fileURLToPath(new URL('../cli.ts', import.meta.url));

let dir: string;
let work: string;
let log: string;
let applied: string;
let tools: string;
let emptyPath: string;

const kubeconfig = (server: string) => `apiVersion: v1
kind: Config
clusters:
- cluster: {server: '${server}'}
  name: c
contexts:
- context: {cluster: c, user: u}
  name: c
current-context: c
`;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kpng-harness-cli-'));
  emptyPath = await mkdtemp(path.join(dir, 'empty-'));
  tools = await scriptBin(dir, {
    docker: '[ "$1" = info ] && { echo 28.0.1; exit 0; }\necho "docker $*" >> "$LOG"',
    kind: [
      'echo "kind $*" >> "$LOG"',
      'case "$1 $2" in',
      '  "get clusters") [ -f "$KIND_STATE" ] && /bin/cat "$KIND_STATE"; exit 0 ;;',
      '  "create cluster") echo "$4" > "$KIND_STATE" ;;',
      '  "delete cluster") /bin/rm -f "$KIND_STATE" ;;',
      `  "get kubeconfig") if [ "$5" = --internal ]; then printf '%s' "$INTERNAL"; else printf 'external kubeconfig of %s\\n' "$4"; fi ;;`,
      'esac',
    ].join('\n'),
    kubectl: 'echo "kubectl $*" >> "$LOG"\nprev=\nfor a; do [ "$prev" = --filename ] && /bin/cp "$a" "$APPLIED"; prev=$a; done',
    tilt: 'echo "tilt $* KUBECONFIG=$KUBECONFIG" >> "$LOG"\n/bin/cat "$KUBECONFIG" >> "$LOG"\necho >> "$LOG"',
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let outText: string;
let logLines: string[];
let ctx: CliContext;
beforeEach(async () => {
  work = await mkdtemp(path.join(dir, 'work-'));
  log = path.join(work, 'tools.log');
  applied = path.join(work, 'applied.yaml');
  outText = '';
  logLines = [];
  ctx = {
    cwd: work,
    env: { PATH: tools, LOG: log, APPLIED: applied, KIND_STATE: path.join(work, 'clusters'), INTERNAL: kubeconfig('https://kpng-proxy-control-plane:6443') },
    out: (text) => (outText += text),
    log: (line) => logLines.push(line),
    repo: repoRoot,
  };
});

const toolLog = async () => (await readFile(log, 'utf8')).trim().split('\n');

// These run the proxy (kpng <stage> --help) to check tilt.env's args: seconds each on a loaded machine.
describe('tilt-setup', { timeout: 30_000 }, () => {
  it('creates the cluster, applies namespace, ServiceAccount and RBAC (not the DaemonSet), writes a valid tilt.env', async () => {
    expect(await main(['tilt-setup', '--backend', 'nft', '--family', 'dual', '--model', 'split-process-per-node'], ctx)).toBe(0);
    const calls = await toolLog();
    expect(calls[0]).toBe('kind get clusters');
    expect(calls[1]).toMatch(/^kind create cluster --name kpng-proxy --config \S+\/kind-kpng-proxy-dual.yaml --wait 5m$/);
    expect(calls[2]).toBe('kind get kubeconfig --name kpng-proxy --internal');
    expect(calls[3]).toMatch(/^kubectl --context kind-kpng-proxy apply --filename \S+\/setup.yaml$/);
    expect(calls).toHaveLength(4);
    const docs = parseAllDocuments(await readFile(applied, 'utf8')).map((d) => (d.toJS() as { kind: string }).kind);
    expect(docs).toEqual(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding']);
    const { env } = parseTiltEnv(await readFile(path.join(work, 'tilt.env'), 'utf8'), { strict: true });
    expect(env).toMatchObject({ backend: 'nft', family: 'dual', model: 'split-process-per-node', clusterName: 'kpng-proxy', image: 'kpng:dev' });
    // tilt.env stores nothing derived from ip_family; the rendered DaemonSet has both pod CIDRs.
    expect(env.backendArgs.some((a) => a.startsWith('--cluster-cidr'))).toBe(false);
    outText = '';
    expect(await main(['tilt-manifests'], ctx)).toBe(0);
    expect(outText).toContain(`--cluster-cidr=${clusterNetworks.dual.podCIDRs.join(',')}`);
    expect(logLines.at(-1)).toBe(`==> wrote ${path.join(work, 'tilt.env')} (nft, dual, split-process-per-node); next: make tilt-up`);
  });

  it('applies the kubeconfig ConfigMap when the proxy is to use one', async () => {
    expect(await main(['tilt-setup', '--backend', 'iptables', '--family', 'ipv4', '--kubeconfig-configmap', 'kpng-kubeconfig'], ctx)).toBe(0);
    const docs = parseAllDocuments(await readFile(applied, 'utf8')).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toContain('ConfigMap/kpng-kubeconfig');
  });

  it('reuses the cluster when tilt.env says it has the family asked for, and refuses it otherwise', async () => {
    expect(await main(['tilt-setup', '--backend', 'nft', '--family', 'ipv6'], ctx)).toBe(0);
    await writeFile(log, '');
    expect(await main(['tilt-setup', '--backend', 'iptables', '--family', 'ipv6'], ctx)).toBe(0);
    expect((await toolLog()).filter((c) => c.startsWith('kind create'))).toEqual([]);
    expect(logLines).toContain('==> kind cluster kpng-proxy exists for ip family ipv6: using it');

    expect(await main(['tilt-setup', '--backend', 'iptables', '--family', 'dual'], ctx)).toBe(1);
    expect(logLines.at(-1)).toBe(
      `KPNG_ERR_CLUSTER_EXISTS: kind cluster kpng-proxy exists, and ${path.join(work, 'tilt.env')} says it is for ip family ipv6; to make it anew for dual: make tilt-setup b=iptables i=dual recreate=1 (or kind delete cluster --name kpng-proxy)`,
    );
    await writeFile(log, '');
    expect(await main(['tilt-setup', '--backend', 'iptables', '--family', 'dual', '--recreate'], ctx)).toBe(0);
    expect((await toolLog()).slice(0, 2)).toEqual(['kind get clusters', 'kind delete cluster --name kpng-proxy']);
  });

  it('names what is missing and accepted on the command line, exit 2', async () => {
    expect(await main(['tilt-setup', '--family', 'dual'], ctx)).toBe(2);
    // The accepted backends are the proxy's (kpng backends --json).
    expect(logLines.at(-1)).toBe(`KPNG_ERR_USAGE: tilt-setup: --backend is required; accepted: ${backendNames().join(', ')}`);
    expect(await main(['tilt-setup', '--backend', 'nft', '--family', 'IPv4'], ctx)).toBe(2);
    expect(logLines.at(-1)).toBe('KPNG_ERR_USAGE: tilt-setup: --family "IPv4" is not accepted (did you mean ipv4?); accepted: ipv4, ipv6, dual');
    expect(await main(['tilt-setup', '--backend', 'ipfw', '--family', 'ipv4'], ctx)).toBe(2);
    expect(logLines.at(-1)).toBe(`KPNG_ERR_USAGE: tilt-setup: --backend "ipfw" is not accepted; accepted: ${backendNames().join(', ')}`);
    await expect(readFile(log, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' }); // no tool was run
    expect(await main(['lab', '--help'], ctx)).toBe(0);
    expect(outText).toMatch(/^kpng-harness lab {3}\(make lab b=<backend> i=<family> \[m=<model>\], make lab-matrix\)\n.*\n.*--backend/);
    expect(await main(['tilt-stup'], ctx)).toBe(2);
    expect(logLines.at(-1)).toMatch(/^KPNG_ERR_USAGE: unknown command "tilt-stup"; accepted: image, tilt-setup, tilt-up, /);
  });
});

async function writeValidTiltEnv(over: Partial<Parameters<typeof tiltEnvFor>[0]> = {}): Promise<void> {
  const env = tiltEnvFor({ backend: 'nft', family: 'ipv4', model: 'single-process-per-node', ...over });
  await writeFile(path.join(work, 'tilt.env'), formatTiltEnv(env));
}

describe('tilt-up and tilt-down', { timeout: 30_000 }, () => {
  it('tilt up runs the repository Tiltfile against a kubeconfig of the tilt.env cluster only', async () => {
    await writeValidTiltEnv();
    await writeFile(ctx.env.KIND_STATE!, 'kpng-proxy\n');
    expect(await main(['tilt-up'], ctx)).toBe(0);
    const calls = await toolLog();
    expect(calls.slice(0, 2)).toEqual(['kind get clusters', 'kind get kubeconfig --name kpng-proxy']);
    expect(calls[2]).toMatch(new RegExp(`^tilt up --file ${repoRoot}Tiltfile KUBECONFIG=\\S+/kubeconfig$`));
    expect(calls[3]).toBe('external kubeconfig of kpng-proxy');
  });

  it('tilt up stops before any tool when tilt.env is not valid, naming the line, the key and the accepted form', async () => {
    await writeFile(path.join(work, 'tilt.env'), (await readFile(path.join(repoRoot, 'tilt.env.example'), 'utf8')).replace('namespace=kpng-system', 'namespace=tilt.dev '));
    expect(await main(['tilt-up'], ctx)).toBe(1);
    expect(logLines.at(-1)).toMatch(/^KPNG_ERR_TILT_ENV_INVALID: \S+tilt.env has 2 problems:\n {2}\S+tilt.env:\d+: namespace: "tilt.dev" contains "." \(a label has no dots\); accepted: a DNS-1123 label/);
    expect(logLines.at(-1)).toMatch(/namespace: whitespace around the value is ignored here, but Tilt's dotenv keeps it in the value: remove it \[KPNG_ERR_TILT_ENV_WHITESPACE\]$/);
  });

  it('a flag the proxy does not take in tilt.env args is an error naming the argument, the line and the accepted flags', async () => {
    const example = await readFile(path.join(repoRoot, 'tilt.env.example'), 'utf8');
    await writeFile(path.join(work, 'tilt.env'), example.replace("'to-iptables', ", "'to-iptables', '--masquerade-al', "));
    const line = example.split('\n').findIndex((l) => l.startsWith('e2e_backend_args=')) + 1;
    for (const command of ['tilt-manifests', 'tilt-up']) {
      expect(await main([command], ctx), command).toBe(1);
      expect(logLines.at(-1)).toMatch(
        new RegExp(
          `^KPNG_ERR_TILT_ENV_INVALID: \\S+tilt.env has 1 problem:\n {2}\\S+tilt.env:${line}: e2e_backend_args: "--masquerade-al": to-iptables does not take --masquerade-al; accepted: --cluster-cidr, --masquerade-all, .*--sync-period.* \\(the container would exit 2 and the DaemonSet crash-loop\\) \\[KPNG_ERR_TILT_ENV_PROXY_FLAG\\]$`,
        ),
      );
    }
    await expect(readFile(log, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' }); // no tool was run
    await writeFile(path.join(work, 'tilt.env'), example.replace("['kube', ", "['kube', '--kubeconfig-path=/x', "));
    expect(await main(['tilt-manifests'], ctx)).toBe(1);
    expect(logLines.at(-1)).toMatch(/"--kubeconfig-path=\/x": kube does not take --kubeconfig-path; accepted: --kubeconfig, --service-proxy-name, /);
  });

  it('a tilt.env that is a directory is an error naming it', async () => {
    await mkdir(path.join(work, 'tilt.env'));
    expect(await main(['tilt-manifests'], ctx)).toBe(1);
    expect(logLines.at(-1)).toBe(`KPNG_ERR_TILT_ENV_INVALID: ${path.join(work, 'tilt.env')} has 1 problem:\n  ${path.join(work, 'tilt.env')}: is a directory (accepted: a tilt.env file) [KPNG_ERR_TILT_ENV_UNREADABLE]`);
  });

  it('tilt up says to run tilt-setup when there is no tilt.env', async () => {
    expect(await main(['tilt-up'], ctx)).toBe(1);
    expect(logLines.at(-1)).toBe(
      `KPNG_ERR_NO_TILT_ENV: ${path.join(work, 'tilt.env')} does not exist; make tilt-setup b=<backend> i=<family> [m=<model>] writes it (tilt.env.example shows its form)`,
    );
  });

  it('tilt up says to run tilt-setup when the cluster does not exist', async () => {
    await writeValidTiltEnv({ clusterName: 'mine' });
    expect(await main(['tilt-up'], ctx)).toBe(1);
    expect(logLines.at(-1)).toBe('KPNG_ERR_NO_CLUSTER: kind cluster mine does not exist; create it with make tilt-setup b=<backend> i=<family>');
  });

  it('tilt down removes what Tilt deployed, then the cluster unless asked to keep it', async () => {
    await writeValidTiltEnv();
    await writeFile(ctx.env.KIND_STATE!, 'kpng-proxy\n');
    expect(await main(['tilt-down', '--keep-cluster'], ctx)).toBe(0);
    expect((await toolLog()).filter((c) => /^(tilt|kind delete)/.test(c)).map((c) => c.split(' KUBECONFIG=')[0])).toEqual([`tilt down --file ${repoRoot}Tiltfile`]);
    await writeFile(log, '');
    expect(await main(['tilt-down'], ctx)).toBe(0);
    expect((await toolLog()).at(-1)).toBe('kind delete cluster --name kpng-proxy');
  });
});

describe('image', () => {
  it('builds proxy/Dockerfile with the repository as context', async () => {
    expect(await main(['image', '--tag', 'kpng:test'], ctx)).toBe(0);
    expect(await toolLog()).toEqual([`docker build --file ${repoRoot}proxy/Dockerfile --tag kpng:test ${repoRoot}`]);
  });

  it('says when the docker daemon does not answer, exit 2', async () => {
    const broken = await scriptBin(dir, { docker: 'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1' });
    expect(await main(['image'], { ...ctx, env: { PATH: broken } })).toBe(2);
    expect(logLines.at(-1)).toMatch(/^KPNG_ERR_MISSING_TOOL: docker is installed but its daemon does not answer \(docker info: Cannot connect to the Docker daemon/);
  });
});

describe('a missing tool, as the Makefile sees it: one message on stderr, exit 2', () => {
  const run = (args: string[], env: Record<string, string> = {}) =>
    execa(process.execPath, [cli, ...args], { cwd: work, env: { PATH: emptyPath, ...env }, extendEnv: false, reject: false });

  it.each([
    [['image'], ['docker']],
    [['tilt-setup', '--backend', 'nft', '--family', 'dual'], ['docker', 'kind']],
    [['e2e', '--cluster', 'kind', '--backend', 'nft', '--family', 'ipv4'], ['docker', 'kind']],
    [['require-tools', 'docker', 'kind', 'tilt'], ['docker', 'kind', 'tilt']],
  ])('%j without %j', async (args, missing) => {
    const child = await run(args);
    expect(child.exitCode).toBe(2);
    expect(child.stdout).toBe('');
    expect(child.stderr).toMatch(/^KPNG_ERR_MISSING_TOOL: /);
    for (const tool of missing) expect(child.stderr).toContain(`${tool} is not on PATH; install`);
  });

  it('tilt-up without tilt (docker and kind there): how to install Tilt', async () => {
    await writeValidTiltEnv();
    const noTilt = await scriptBin(dir, { docker: 'echo 28.0.1', kind: 'exit 0' });
    const child = await run(['tilt-up'], { PATH: noTilt });
    expect(child.exitCode).toBe(2);
    expect(child.stderr.trim()).toBe(
      'KPNG_ERR_MISSING_TOOL: tilt is not on PATH; install Tilt: curl -fsSL https://raw.githubusercontent.com/tilt-dev/tilt/master/scripts/install.sh | bash (https://docs.tilt.dev/install.html)',
    );
  });
});
