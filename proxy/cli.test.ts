// The `kpng` command as users run it: a real process, real files.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { describeBackend } from './backends/backend.ts';
import { registeredBackends } from './backends/registry.ts';
import { mergeFlags, stageDescription } from './cli/backend-stage.ts';
import { allStages } from './cli/registry.ts';
import { runtimeFlags } from './runtime/index.ts';

const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
const testdata = fileURLToPath(new URL('./model/testdata/', import.meta.url));
const kpng = (args: string[]) => execa(process.execPath, [cli, ...args], { reject: false, env: { KPNG_LOG_LEVEL: 'warn' } });

// Each case starts real processes; allow for a loaded machine.
vi.setConfig({ testTimeout: 60_000 });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kpng-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kpng file ... to-local ... to-json', () => {
  it('prints the expected node-local state for the dual-stack, multi-slice, externalTrafficPolicy=Local example', async () => {
    const r = await kpng(['file', `--input=${testdata}dual-stack-etp-local.yaml`, '--once', 'to-local', '--node-name=node-a', 'to-json']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(await readFile(`${testdata}dual-stack-etp-local.node-a.json`, 'utf8')));
  });

  it('writes to --output instead of stdout', async () => {
    const out = path.join(dir, 'state.json');
    const r = await kpng(['file', `--input=${testdata}dual-stack-etp-local.yaml`, '--once', 'to-local', '--node-name=node-b', 'to-json', `--output=${out}`]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('');
    const doc = JSON.parse(await readFile(out, 'utf8'));
    expect(doc.node.name).toBe('node-b');
    // From node-b the UDP Service with internalTrafficPolicy=Local has its local endpoint.
    const dns = doc.servicePorts.find((sp: { key: string }) => sp.key === 'kube-system/dns:dns');
    expect(dns.internalEndpoints.map((e: { address: string }) => e.address)).toEqual(['10.244.2.53']);
  });

  it('skips a malformed object with one warning naming it and the field, and syncs the rest', async () => {
    const input = path.join(dir, 'bad.yaml');
    await writeFile(
      input,
      [
        'apiVersion: v1\nkind: Service\nmetadata: {name: ok}\nspec: {clusterIP: 10.96.0.1, ports: [{port: 80}]}',
        'apiVersion: v1\nkind: Service\nmetadata: {name: broken, namespace: shop}\nspec: {clusterIP: 10.96.0.2, ports: [{port: 80, protocol: HTTP}]}',
      ].join('\n---\n'),
    );
    const r = await kpng(['file', `--input=${input}`, '--once', 'to-local', '--node-name=n', 'to-json']);
    expect(r.exitCode).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => l.includes('KPNG_ERR_BAD_OBJECT'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('shop/broken');
    expect(warnings[0]).toContain('spec.ports[0].protocol');
    expect(JSON.parse(r.stdout).servicePorts.map((sp: { key: string }) => sp.key)).toEqual(['default/ok']);
  });

  it('fails with the line and column of an unparseable snapshot', async () => {
    const input = path.join(dir, 'broken.yaml');
    await writeFile(input, 'kind: Service\nmetadata: {name: x\n  spec: [\n');
    const r = await kpng(['file', `--input=${input}`, '--once', 'to-local', '--node-name=n', 'to-json']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/broken\.yaml:\d+:\d+: cannot parse snapshot/);
  });

  it('refuses a snapshot larger than --max-bytes, naming the file, its size and the limit', async () => {
    const r = await kpng(['file', `--input=${testdata}dual-stack-etp-local.yaml`, '--max-bytes=100', '--once', 'to-local', '--node-name=n', 'to-json']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/KPNG_ERR_SNAPSHOT_TOO_LARGE: \S*dual-stack-etp-local\.yaml: \d+ bytes \(.*\), more than the file source's --max-bytes=100/);
  });
});

describe('--service-proxy-name', () => {
  it('makes the proxy handle only the Services labelled with it', async () => {
    const input = path.join(dir, 'proxy-name.yaml');
    await writeFile(
      input,
      [
        'kind: Service\nmetadata: {name: plain}\nspec: {clusterIP: 10.96.0.1, ports: [{port: 80}]}',
        'kind: Service\nmetadata: {name: ours, labels: {service.kubernetes.io/service-proxy-name: kpng}}\nspec: {clusterIP: 10.96.0.2, ports: [{port: 80}]}',
      ].join('\n---\n'),
    );
    const keys = async (extra: string[]) => {
      const r = await kpng(['file', `--input=${input}`, '--once', ...extra, 'to-local', '--node-name=n', 'to-json']);
      return JSON.parse(r.stdout).servicePorts.map((sp: { key: string }) => sp.key);
    };
    expect(await keys([])).toEqual(['default/plain']);
    expect(await keys(['--service-proxy-name=kpng'])).toEqual(['default/ours']);
  });
});

describe('to-file writes a snapshot the file source reads back', () => {
  it('round-trips to the same node-local state', async () => {
    const snapshot = path.join(dir, 'roundtrip.yaml');
    const w = await kpng(['file', `--input=${testdata}dual-stack-etp-local.yaml`, '--once', 'to-file', `--output=${snapshot}`]);
    expect(w.exitCode).toBe(0);
    expect(await readFile(snapshot, 'utf8')).toMatch(/^apiVersion: v1\nkind: List\nitems:/);
    const a = await kpng(['file', `--input=${testdata}dual-stack-etp-local.yaml`, '--once', 'to-local', '--node-name=node-a', 'to-json']);
    const b = await kpng(['file', `--input=${snapshot}`, '--once', 'to-local', '--node-name=node-a', 'to-json']);
    expect(b.exitCode).toBe(0);
    expect(b.stdout).toBe(a.stdout);
  });
});

describe('a backend with --dry-run', () => {
  // A dry run may be used on a node where the proxy already runs and holds its ports:
  // /healthz, /metrics and the example's healthCheckNodePort are all taken here.
  const listenOn = async (port: number, host: string) => {
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
    return server;
  };
  it.each(['to-iptables', 'to-nft'])('%s --dry-run prints the rules and binds no port, even one already taken', async (backend) => {
    const input = `${testdata}dual-stack-etp-local.yaml`;
    const healthCheckNodePort = Number(/healthCheckNodePort: (\d+)/.exec(await readFile(input, 'utf8'))?.[1]);
    expect(healthCheckNodePort).toBeGreaterThan(0);
    const taken = [await listenOn(0, '127.0.0.1'), await listenOn(healthCheckNodePort, '0.0.0.0')];
    const { port } = taken[0]!.address() as AddressInfo;
    try {
      const r = await kpng([
        'file',
        `--input=${input}`,
        '--once',
        'to-local',
        '--node-name=node-a',
        backend,
        '--dry-run',
        `--healthz-bind-address=127.0.0.1:${port}`,
        `--metrics-bind-address=127.0.0.1:${port}`,
      ]);
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toContain(`# kpng ${backend} --dry-run: `);
    } finally {
      await Promise.all(taken.map((server) => new Promise((resolve) => server.close(resolve))));
    }
  });
});

describe('a kubeconfig that cannot be used', () => {
  it.each([
    { what: 'a directory', make: async (f: string) => void (await mkdir(f)), error: 'is a directory (accepted: a kubeconfig file)' },
    { what: 'not YAML', make: (f: string) => writeFile(f, 'clusters: [unclosed\n  x: 1\n'), error: 'cannot be read as a kubeconfig: ' },
    { what: 'no current cluster', make: (f: string) => writeFile(f, 'apiVersion: v1\nkind: Config\n'), error: 'has no current cluster' },
  ])('$what: exit 1 naming the file and the flag', async ({ make, error }) => {
    const file = await mkdtemp(path.join(dir, 'kubeconfig-')).then((d) => path.join(d, 'config'));
    await make(file);
    const r = await kpng(['kube', `--kubeconfig=${file}`, 'to-file', `--output=${path.join(dir, 'never.yaml')}`]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`KPNG_ERR_KUBECONFIG: ${file} (--kubeconfig): ${error}`);
  });
});

describe('a --node-name that matches no Node', () => {
  it('is warned about once (KPNG_ERR_NODE_UNKNOWN), and the rules are still written', async () => {
    const r = await kpng(['file', `--input=${testdata}dual-stack-etp-local.yaml`, '--once', 'to-local', '--node-name=node-z', 'to-nft', '--dry-run']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('# kpng to-nft --dry-run: ');
    expect(r.stderr.match(/KPNG_ERR_NODE_UNKNOWN: --node-name "node-z" matches no Node object/g)).toHaveLength(1);
  });
});

describe('the pipeline grammar', () => {
  const cases: Array<{ args: string[]; error: RegExp }> = [
    { args: ['nope'], error: /KPNG_ERR_UNKNOWN_STAGE: unknown stage "nope".*accepted first: file/ },
    { args: ['file', '--input=x', 'to-nowhere'], error: /unknown stage "to-nowhere" after file \(accepted: to-local, to-file/ },
    { args: ['file', '--input=x', 'to-local', 'to-nowhere'], error: /unknown stage "to-nowhere" after to-local \(accepted: to-json/ },
    { args: ['file', '--input=x', '--bogus', 'to-file', '--output=y'], error: /file does not take --bogus \(accepted: --input, --once, --debounce, --max-bytes, --service-proxy-name, --help\)/ },
    { args: ['file', 'to-file', '--output=y'], error: /KPNG_ERR_MISSING_FLAG: file needs --input/ },
    { args: ['file', '--input=x', 'to-local'], error: /to-local needs a backend after it \(accepted: to-json/ },
    { args: ['file', '--input=x', '--debounce=soon', 'to-file', '--output=y'], error: /--debounce="soon": accepted: a duration/ },
    { args: ['to-json'], error: /to-json is a backend; a pipeline starts with a source/ },
    { args: ['file', '--input=x', 'to-file', '--output=y', 'to-json'], error: /nothing may follow to-file/ },
  ];
  it.each(cases)('kpng $args → exit 2', async ({ args, error }) => {
    const r = await kpng(args);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(error);
  });

  // Values the stages used to accept at parse time and refuse only on start (exit 1), or not at all.
  const badValues: Array<{ stage: string[]; flag: string; accepted: RegExp }> = [
    { stage: ['to-nft'], flag: '--sync-period=0', accepted: /accepted: a duration greater than 0/ },
    { stage: ['to-iptables'], flag: '--sync-period=-1s', accepted: /accepted: a duration such as/ },
    { stage: ['to-nft'], flag: '--healthz-bind-address=1.2.3.4:99999', accepted: /accepted: IP:port/ },
    { stage: ['to-iptables'], flag: '--metrics-bind-address=localhost', accepted: /accepted: IP:port/ },
    { stage: ['to-nft'], flag: '--cluster-cidr=10.244.0.0/33', accepted: /not a CIDR \(accepted: e.g. 10.244.0.0\/16/ },
    { stage: ['to-iptables'], flag: '--cluster-cidr=10.0.0.0/8,10.1.0.0/16', accepted: /2 CIDRs of IPv4; accepted: at most one per family/ },
    { stage: ['to-nft'], flag: '--ip-families=IPv5', accepted: /accepted: IPv4, IPv6/ },
    { stage: ['to-iptables'], flag: '--masquerade-bit=32', accepted: /accepted: an integer 0-31/ },
    { stage: ['to-nft'], flag: '--nodeport-addresses=lan', accepted: /accepted: CIDRs \(e\.g\. [^)]*\) and\/or "primary"/ },
    { stage: ['to-iptables'], flag: '--nodeport-addresses=10.0.0.0/40', accepted: /accepted: CIDRs \(e\.g\. [^)]*\) and\/or "primary"/ },
  ];
  it.each(badValues)('kpng ... $stage $flag → exit 2, naming the flag, the value and what is accepted', async ({ stage, flag, accepted }) => {
    const r = await kpng(['file', `--input=${testdata}dual-stack-etp-local.yaml`, '--once', 'to-local', '--node-name=node-a', ...stage, '--dry-run', flag]);
    expect(r.exitCode).toBe(2);
    const [name, value] = [flag.slice(0, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)];
    expect(r.stderr).toContain(`KPNG_ERR_BAD_FLAG: ${stage[0]} ${name}=${JSON.stringify(value)}: `);
    expect(r.stderr).toMatch(accepted);
  });

  it.each([
    { args: ['file', '--input=x', 'to-api', '--listen=/run/kpng.sock'], error: /to-api --listen="\/run\/kpng.sock": unknown scheme \(accepted: unix:\/\/\/absolute\/path or tcp:\/\/host:port/ },
    { args: ['file', '--input=x', 'to-api', '--listen=tcp://127.0.0.1:70000'], error: /--listen="tcp:\/\/127.0.0.1:70000": port "70000" is not a number from 0 to 65535/ },
    { args: ['local', '--api=unix://relative.sock', 'to-json'], error: /local --api="unix:\/\/relative.sock": the socket path must be absolute/ },
    { args: ['kube', '--watch-inactivity=0', 'to-file', '--output=y'], error: /kube --watch-inactivity="0": accepted: a duration greater than 0/ },
    { args: ['file', '--input=', 'to-file', '--output=y'], error: /file --input="": accepted: a file path \(the value is empty\)/ },
    { args: ['file', '--input=x', '--max-bytes=0', 'to-file', '--output=y'], error: /file --max-bytes="0": accepted: a whole number of bytes, 1 or more/ },
    { args: ['file', '--input=x', 'to-local', '--node-name=', 'to-json'], error: /to-local --node-name="": accepted: the name of this node's Node object.*the value is empty/ },
    { args: ['local', '--node-name=$(NODE_NAME)', 'to-json'], error: /local --node-name="\$\(NODE_NAME\)": .*"\$\(\.\.\.\)" was not expanded/ },
    { args: ['file', '--input=x', 'to-local', '--node-name=Node_A', 'to-json'], error: /to-local --node-name="Node_A": accepted: .*DNS-1123 subdomain/ },
  ])('kpng $args → exit 2 before anything starts', async ({ args, error }) => {
    const r = await kpng(args);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(error);
  });

  it('--help works for the command and for every stage', async () => {
    const top = await kpng(['--help']);
    expect(top.exitCode).toBe(0);
    for (const stage of allStages()) {
      expect(top.stdout).toContain(stage.name);
      const r = await kpng([stage.name, '--help']);
      expect(r.exitCode, stage.name).toBe(0);
      expect(r.stdout).toContain(`${stage.name}: ${stage.summary}`);
      for (const f of stage.flags) expect(r.stdout).toContain(`--${f.name}`);
    }
  });
});

describe('kpng backends and kpng to-<backend> --describe', () => {
  it("every registered backend's --describe: exit 0, its descriptor as JSON, named as its folder and stage", async () => {
    for (const d of registeredBackends) {
      const r = await kpng([`to-${d.name}`, '--describe']);
      expect(r.exitCode, r.stderr).toBe(0);
      const described = JSON.parse(r.stdout) as ReturnType<typeof stageDescription>;
      expect(described).toEqual(JSON.parse(JSON.stringify(stageDescription(d))));
      expect(described.stage).toBe(`to-${d.name}`);
      expect(described.proxyMode).toBe(d.proxyMode);
      // The stage's flags: the backend's and the runtime's, one of each name, as --help lists them.
      const names = described.flags.map((f) => f.name);
      expect(new Set(names).size).toBe(names.length);
      for (const f of [...d.flags, ...runtimeFlags]) expect(names).toContain(f.name);
      expect(described.subjects.length).toBeGreaterThan(0);
      expect(described.pod.reason).not.toBe('');
    }
  });

  it('kpng backends --json lists every registered backend in order; kpng backends one line each; --help says so', async () => {
    const json = await kpng(['backends', '--json']);
    expect(json.exitCode, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(JSON.parse(JSON.stringify(registeredBackends.map(stageDescription))));
    const text = await kpng(['backends']);
    expect(text.exitCode).toBe(0);
    expect(text.stdout.trimEnd().split('\n').map((l) => l.split(/\s+/)[0])).toEqual(registeredBackends.map((d) => `to-${d.name}`));
    expect((await kpng(['--help'])).stdout).toContain('kpng backends [--json]');
    const bad = await kpng(['backends', '--yaml']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('KPNG_ERR_UNKNOWN_FLAG: backends does not take --yaml (accepted: --json, --names or --packages)');
    const names = await kpng(['backends', '--names']);
    expect(JSON.parse(names.stdout)).toEqual(registeredBackends.map((d) => d.name));
  });

  it('nft answers /proxyMode "nftables", as kube-proxy does, under its one name nft', () => {
    const nft = registeredBackends.find((d) => d.name === 'nft');
    expect(describeBackend(nft!).proxyMode).toBe('nftables');
  });

  it('a flag shared by a backend and the runtime is one declaration; declaring it twice is refused', () => {
    for (const d of registeredBackends) expect(() => mergeFlags(d.flags, runtimeFlags)).not.toThrow();
    expect(() => mergeFlags([{ name: 'nodeport-addresses', type: 'list', description: 'again', default: [] }], runtimeFlags)).toThrow(/--nodeport-addresses is declared twice/);
  });
});

describe('kpng ... to-api and kpng local', () => {
  it('serve and read a node view over a unix socket: the same document as to-local gives', async () => {
    const sock = path.join(dir, 'api.sock');
    const out = path.join(dir, 'via-api.json');
    const input = `${testdata}dual-stack-etp-local.yaml`;
    const server = execa(process.execPath, [cli, 'file', `--input=${input}`, 'to-api', `--listen=unix://${sock}`], { reject: false, env: { KPNG_LOG_LEVEL: 'warn' } });
    const agent = execa(process.execPath, [cli, 'local', `--api=unix://${sock}`, '--node-name=node-a', 'to-json', `--output=${out}`], { reject: false, env: { KPNG_LOG_LEVEL: 'warn' } });
    try {
      const direct = await kpng(['file', `--input=${input}`, '--once', 'to-local', '--node-name=node-a', 'to-json']);
      await vi.waitFor(async () => expect(await readFile(out, 'utf8').catch(() => '')).toBe(`${direct.stdout}\n`), { timeout: 30_000, interval: 50 });
    } finally {
      agent.kill('SIGTERM');
      server.kill('SIGTERM');
      expect((await agent).exitCode).toBe(0);
      expect((await server).exitCode).toBe(0);
    }
  });

  const failures: Array<{ args: string[]; error: RegExp }> = [
    { args: ['file', '--input=x', 'to-api', '--listen=unix:///tmp/x.sock', '--tls-cert=/c.pem', '--tls-key=/k.pem'], error: /KPNG_ERR_API_TLS: TLS applies to tcp:\/\/ addresses only/ },
    { args: ['local', '--api=tcp://127.0.0.1:1', '--tls-cert=/c.pem', 'to-json'], error: /KPNG_ERR_API_TLS: --tls-cert and --tls-key go together/ },
  ];
  it.each(failures)('kpng $args → exit 1 with the reason and what is accepted', async ({ args, error }) => {
    const r = await kpng(args);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(error);
  });
});
