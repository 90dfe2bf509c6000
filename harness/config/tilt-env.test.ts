import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { backendNames, deploymentModels, ipFamilies } from './backends.ts';
import { KpngError } from './errors.ts';
import {
  TiltEnvError,
  formatTiltEnv,
  parseTiltEnv,
  readTiltEnv,
  tiltEnvFor,
  tiltEnvKeys,
  writeTiltEnv,
  type TiltEnv,
  type TiltEnvIssue,
} from './tilt-env.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

const good = tiltEnvFor({ backend: 'iptables', family: 'ipv4', model: 'single-process-per-node' });
const goodText = formatTiltEnv(good);

function issuesOf(text: string, options: { strict?: boolean } = {}): TiltEnvIssue[] {
  try {
    parseTiltEnv(text, options);
  } catch (error) {
    if (error instanceof TiltEnvError) return [...error.issues];
    throw error;
  }
  throw new Error('expected parseTiltEnv to throw');
}

/** goodText with the line of `key` replaced (or removed when line is undefined). */
function withLine(key: string, line: string | undefined, text = goodText): string {
  return text
    .split('\n')
    .flatMap((l) => (l.startsWith(`${key}=`) ? (line === undefined ? [] : [line]) : [l]))
    .join('\n');
}

function lineNumber(key: string, text = goodText): number {
  return text.split('\n').findIndex((l) => l.startsWith(`${key}=`)) + 1;
}

describe('parseTiltEnv', () => {
  it('reads what formatTiltEnv writes, for every backend × family × model', () => {
    for (const backend of backendNames()) {
      for (const family of ipFamilies) {
        for (const model of deploymentModels) {
          for (const configMapName of ['', 'kpng-kubeconfig']) {
            const env = tiltEnvFor({ backend, family, model, configMapName });
            const text = formatTiltEnv(env);
            expect(parseTiltEnv(text, { strict: true })).toMatchObject({ env, warnings: [] });
          }
        }
      }
    }
  });

  it("reads KPNG's form: comments, blank lines, quotes, whitespace, list values", () => {
    const text = [
      '# a comment',
      '',
      '   # an indented comment',
      "kpng_image='kpng:dev'",
      'image_pull_policy="IfNotPresent"',
      'backend = iptables  ',
      'config_map_name=',
      'service_account_name=kpng',
      'namespace=kpng-system',
      `e2e_backend_args=['kube', 'to-local', '--node-name=$(NODE_NAME)', "to-iptables"]`,
      `e2e_server_args="[]"`,
      'deployment_model=single-process-per-node',
      'ip_family=ipv4\r',
      '',
    ].join('\n');
    const { env, warnings } = parseTiltEnv(text);
    expect(env).toEqual({
      image: 'kpng:dev',
      imagePullPolicy: 'IfNotPresent',
      backend: 'iptables',
      configMapName: '',
      serviceAccountName: 'kpng',
      namespace: 'kpng-system',
      backendArgs: ['kube', 'to-local', '--node-name=$(NODE_NAME)', 'to-iptables'],
      serverArgs: [],
      model: 'single-process-per-node',
      family: 'ipv4',
      clusterName: 'kpng-proxy',
    } satisfies TiltEnv);
    // Everything Tilt's dotenv would read differently is reported, with its line.
    expect(warnings.map((w) => [w.line, w.key, w.code])).toEqual([
      [4, 'kpng_image', 'KPNG_ERR_TILT_ENV_QUOTED'],
      [5, 'image_pull_policy', 'KPNG_ERR_TILT_ENV_QUOTED'],
      [6, 'backend', 'KPNG_ERR_TILT_ENV_WHITESPACE'],
      [6, 'backend', 'KPNG_ERR_TILT_ENV_WHITESPACE'],
      [11, 'e2e_server_args', 'KPNG_ERR_TILT_ENV_QUOTED'],
      [13, 'ip_family', 'KPNG_ERR_TILT_ENV_WHITESPACE'],
    ]);
    expect(warnings[5]?.message).toContain('carriage return');
    // strict: the same places are errors.
    expect(issuesOf(text, { strict: true }).map((i) => i.line)).toEqual([4, 5, 6, 6, 11, 13]);
  });

  it("rejects KPNG's example namespace, tilt.dev, naming the line, the key and the accepted form", () => {
    const text = withLine('namespace', 'namespace=tilt.dev');
    const issues = issuesOf(text);
    expect(issues).toEqual([
      {
        code: 'KPNG_ERR_TILT_ENV_VALUE',
        line: lineNumber('namespace'),
        key: 'namespace',
        message: expect.stringContaining('"tilt.dev" contains "." (a label has no dots); accepted: a DNS-1123 label'),
      },
    ]);
    expect(() => parseTiltEnv(text, { file: 'tilt.env' })).toThrow(`tilt.env:${lineNumber('namespace')}: namespace: "tilt.dev"`);
  });

  it('rejects a trailing space kept inside quotes', () => {
    const issues = issuesOf(withLine('kpng_image', "kpng_image='kpng:dev '"));
    expect(issues.map((i) => [i.code, i.line, i.key])).toEqual([['KPNG_ERR_TILT_ENV_WHITESPACE', lineNumber('kpng_image'), 'kpng_image']]);
    expect(issues[0]?.message).toContain('"kpng:dev " has leading or trailing whitespace');
  });

  it('rejects unknown keys with a did-you-mean, duplicates, missing keys and lines without "="', () => {
    const text = `${goodText}bakend=nft\nnamespace=other\njust some words\n`;
    const start = goodText.split('\n').length;
    expect(issuesOf(text).map((i) => [i.line, i.key, i.code])).toEqual([
      [start, 'bakend', 'KPNG_ERR_TILT_ENV_UNKNOWN_KEY'],
      [start + 1, 'namespace', 'KPNG_ERR_TILT_ENV_DUPLICATE_KEY'],
      [start + 2, undefined, 'KPNG_ERR_TILT_ENV_SYNTAX'],
    ]);
    expect(issuesOf(text)[0]?.message).toMatch(/^unknown key \(did you mean "backend"\?\); accepted keys: kpng_image, /);
    expect(issuesOf(text)[1]?.message).toBe(`already set on line ${lineNumber('namespace')}; set each key once`);

    const missing = issuesOf(withLine('ip_family', undefined));
    expect(missing).toEqual([
      {
        code: 'KPNG_ERR_TILT_ENV_MISSING_KEY',
        key: 'ip_family',
        message: 'missing; add a line ip_family=<value>, where <value> is one of ipv4, ipv6, dual',
      },
    ]);
  });

  it('suggests the accepted value for near misses of enumerated values', () => {
    const [issue] = issuesOf(withLine('backend', 'backend=nftables'));
    expect(issue?.message).toBe(`"nftables" is not accepted (did you mean "nft"?); accepted: one of ${backendNames().join(', ')}`);
    const [family] = issuesOf(withLine('ip_family', 'ip_family=IPv4'));
    expect(family?.message).toContain('(did you mean "ipv4"?)');
  });

  it('rejects bad list syntax with the column, bad images, inline comments and unclosed quotes', () => {
    const list = issuesOf(withLine('e2e_backend_args', "e2e_backend_args=['kube' 'to-local']"));
    expect(list[0]).toMatchObject({ code: 'KPNG_ERR_TILT_ENV_LIST', key: 'e2e_backend_args' });
    expect(list[0]?.message).toMatch(/^expected "," or "]" at column 9; accepted: a Python-style list/);

    const image = issuesOf(withLine('kpng_image', 'kpng_image=KPNG:dev'));
    expect(image[0]?.message).toMatch(/repository names are lower-case; accepted: an image reference/);

    const comment = issuesOf(withLine('backend', 'backend=iptables # the default'));
    expect(comment[0]).toMatchObject({ code: 'KPNG_ERR_TILT_ENV_SYNTAX', key: 'backend' });
    expect(comment[0]?.message).toContain('inline comments are not supported');

    const unclosed = issuesOf(withLine('namespace', 'namespace="kpng-system'));
    expect(unclosed[0]?.message).toContain('opens with " but is not closed');
  });

  it('reports every problem at once, in line order', () => {
    let text = withLine('namespace', 'namespace=tilt.dev');
    text = withLine('backend', 'backend=bpf', text);
    text = withLine('image_pull_policy', 'image_pull_policy=always', text);
    expect(issuesOf(text).map((i) => i.key)).toEqual(['image_pull_policy', 'backend', 'namespace']);
  });

  it('checks that the args fit the backend, the model and the kubeconfig choice', () => {
    const wrongBackend = issuesOf(withLine('backend', 'backend=nft'));
    expect(wrongBackend).toEqual([
      expect.objectContaining({ code: 'KPNG_ERR_TILT_ENV_INCONSISTENT', key: 'e2e_backend_args', line: lineNumber('e2e_backend_args') }),
    ]);
    expect(wrongBackend[0]?.message).toContain('runs "to-iptables" but the backend is nft');

    const wrongModel = issuesOf(withLine('deployment_model', 'deployment_model=split-process-per-node'));
    expect(wrongModel.map((i) => i.key)).toEqual(['e2e_backend_args', 'e2e_server_args']);

    const configMap = issuesOf(withLine('config_map_name', 'config_map_name=kpng-kubeconfig'));
    expect(configMap[0]?.message).toContain('needs "--kubeconfig=/var/lib/kpng/kubeconfig.conf"');
  });

  it('throws a KpngError with code KPNG_ERR_TILT_ENV_INVALID whose message lists file:line: key:', () => {
    try {
      parseTiltEnv(withLine('namespace', 'namespace=tilt.dev'), { file: 'some/tilt.env' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(KpngError);
      expect((error as KpngError).code).toBe('KPNG_ERR_TILT_ENV_INVALID');
      expect((error as KpngError).message).toMatch(
        new RegExp(`^KPNG_ERR_TILT_ENV_INVALID: some/tilt.env has 1 problem:\n  some/tilt.env:${lineNumber('namespace')}: namespace: `),
      );
      expect((error as KpngError).message).toMatch(/\[KPNG_ERR_TILT_ENV_VALUE\]$/);
    }
  });
});

describe('formatTiltEnv', () => {
  it('writes one key=value per line in a fixed order, no trailing whitespace, a final newline', () => {
    const lines = goodText.split('\n');
    expect(goodText.endsWith('\n')).toBe(true);
    for (const line of lines) expect(line).toBe(line.trimEnd());
    expect(lines.filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split('=')[0])).toEqual(tiltEnvKeys.map((k) => k.key));
  });

  it("is read identically by Tilt's dotenv (split on the first '=', nothing trimmed or unquoted)", () => {
    for (const line of goodText.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const eq = line.indexOf('=');
      const key = line.slice(0, eq);
      const value = line.slice(eq + 1);
      const spec = tiltEnvKeys.find((k) => k.key === key);
      expect(spec).toBeDefined();
      const ours = good[spec!.field];
      if (!Array.isArray(ours)) expect(value).toBe(String(ours));
      expect(value).toBe(value.trim());
      expect(value).not.toMatch(/^['"]/);
    }
  });

  it('refuses invalid settings, naming the key and the accepted form', () => {
    expect(() => formatTiltEnv({ ...good, namespace: 'tilt.dev' })).toThrow(
      'tilt.env (to write): namespace: "tilt.dev" contains "." (a label has no dots); accepted: a DNS-1123 label',
    );
    expect(() => formatTiltEnv({ ...good, backend: 'nft' })).toThrow(/KPNG_ERR_TILT_ENV_INCONSISTENT/);
  });

  it('refuses values that a dotenv reader would not read back unchanged', () => {
    const env = { ...good, backendArgs: [...good.backendArgs, '--comment=a #b'] };
    expect(() => formatTiltEnv(env)).toThrow(/e2e_backend_args: the value .* contains " #".*KPNG_ERR_TILT_ENV_UNWRITABLE/);
  });

  it('writes atomically, and readTiltEnv reads the file back', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kpng-tilt-env-'));
    try {
      const file = path.join(dir, 'tilt.env');
      await writeTiltEnv(file, good);
      expect(await readFile(file, 'utf8')).toBe(goodText);
      expect(await readdir(dir)).toEqual(['tilt.env']);
      expect((await readTiltEnv(file)).env).toEqual(good);
      await expect(readTiltEnv(path.join(dir, 'missing.env'))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('tilt.env.example', () => {
  it('is valid, even read strictly, and its settings lines are what the writer writes', async () => {
    const text = await readFile(path.join(repoRoot, 'tilt.env.example'), 'utf8');
    const { env, warnings } = parseTiltEnv(text, { file: 'tilt.env.example', strict: true });
    expect(warnings).toEqual([]);
    const settings = (t: string) => t.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(settings(text)).toEqual(settings(formatTiltEnv(env)));
    for (const line of text.split('\n')) expect(line).toBe(line.trimEnd());
  });
});
