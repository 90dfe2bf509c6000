// The error-code tables are complete and used: every KPNG_ERR_* in the source is in the
// proxy's table (proxy/) or in the harness's or the proxy's (harness/, e2e/); every code in
// a table is used; the proxy builds no message by hand (each goes through errorText);
// every error class starts its message with its code; README.md lists both tables.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { harnessErrorCodes, harnessErrorText } from '../harness/config/error-codes.ts';
import { KpngError } from '../harness/config/errors.ts';
import { ApiError } from './api/errors.ts';
import { RuleApplyError } from './backends/common/apply-error.ts';
import { RuleSetupError } from './backends/iptables/backend.ts';
import { NftSetupError } from './backends/nft/exec.ts';
import { UsageError } from './cli/parse.ts';
import { errorCodes, errorDetail, errorText, type ErrorCode } from './errors.ts';
import { registeredBackends } from './backends/registry.ts';
import { RuntimeError } from './runtime/errors.ts';
import { SnapshotError } from './sources/file/parse.ts';
import { KubeAPIError, KubeConfigError } from './sources/kube/client.ts';

const repo = fileURLToPath(new URL('../', import.meta.url));
const proxyTable = 'proxy/errors.ts';
const harnessTable = 'harness/config/error-codes.ts';

/** Every .ts file under `dir`, as repo-relative paths. */
function sources(dir: string): string[] {
  return readdirSync(path.join(repo, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(repo, path.join(e.parentPath, e.name)))
    .sort();
}

const isTest = (file: string) => file.endsWith('.test.ts');
const read = (file: string) => readFileSync(path.join(repo, file), 'utf8');

/** The codes a text names; a prefix (KPNG_ERR_SNAPSHOT_*, the pattern KPNG_ERR_\w+) is not a code. */
function codesIn(text: string): string[] {
  return [...text.matchAll(/KPNG_ERR_[A-Z0-9_]*(\*)?/g)].filter((m) => !m[0].endsWith('_') && m[1] === undefined).map((m) => m[0]);
}

const proxyFiles = sources('proxy');
const harnessFiles = [...sources('harness'), ...sources('e2e')];
/** The registered backends' own codes (their descriptors' `errors`), with the folder each belongs to. */
const backendTables = registeredBackends.map((d) => ({ name: d.name, folder: `proxy/backends/${d.name}/`, table: d.errors ?? {} }));
const proxyCodes = new Set([...Object.keys(errorCodes), ...backendTables.flatMap((b) => Object.keys(b.table))]);
const harnessCodes = new Set(Object.keys(harnessErrorCodes));

describe('error-code tables', () => {
  it('every code in proxy/ (code and tests) is in the proxy’s table or a registered backend’s', () => {
    // This test names harness codes too.
    const unknown = proxyFiles.filter((f) => f !== 'proxy/errors.test.ts').flatMap((f) => codesIn(read(f)).filter((c) => !proxyCodes.has(c)).map((c) => `${f}: ${c}`));
    expect(unknown).toEqual([]);
  });

  it('every code in harness/ and e2e/ is in the harness’s table or the proxy’s', () => {
    const unknown = harnessFiles.flatMap((f) => codesIn(read(f)).filter((c) => !harnessCodes.has(c) && !proxyCodes.has(c)).map((c) => `${f}: ${c}`));
    expect(unknown).toEqual([]);
  });

  it('every code in a table is used by the code beside it (tests do not count)', () => {
    const used = (files: string[], table: string) => new Set(files.filter((f) => f !== table && !isTest(f)).flatMap((f) => codesIn(read(f))));
    const inProxy = used(proxyFiles, proxyTable);
    const inHarness = used(harnessFiles, harnessTable);
    expect(Object.keys(errorCodes).filter((c) => !inProxy.has(c))).toEqual([]);
    for (const b of backendTables) {
      // A backend's own codes are used in its folder (not only somewhere in the proxy).
      const inFolder = used(proxyFiles.filter((f) => f.startsWith(b.folder)), `${b.folder}errors.ts`);
      expect(Object.keys(b.table).filter((c) => !inFolder.has(c)), b.name).toEqual([]);
    }
    expect([...harnessCodes].filter((c) => !inHarness.has(c))).toEqual([]);
  });

  it('no "KPNG_ERR_...: " message is written by hand: each goes through errorText (harness: harnessErrorText)', () => {
    const handMade = [...proxyFiles, ...harnessFiles]
      .filter((f) => !isTest(f) && f !== proxyTable && f !== harnessTable)
      .flatMap((f) =>
        read(f)
          .split('\n')
          .map((line, i) => ({ line, at: `${f}:${i + 1}` }))
          .filter(({ line }) => /['"`]KPNG_ERR_[A-Z0-9_]+: /.test(line))
          .map(({ at }) => at),
      );
    expect(handMade).toEqual([]);
  });

  it('each error class starts its message with its code', () => {
    const code: ErrorCode = 'KPNG_ERR_SYNC_FAILED';
    const errors: Array<[Error & { code: string }, string]> = [
      [new RuntimeError('KPNG_ERR_LISTEN', 'x'), 'KPNG_ERR_LISTEN'],
      [new ApiError('KPNG_ERR_API_TLS', 'x'), 'KPNG_ERR_API_TLS'],
      [new UsageError('KPNG_ERR_BAD_FLAG', 'x'), 'KPNG_ERR_BAD_FLAG'],
      [new SnapshotError('KPNG_ERR_SNAPSHOT_EMPTY', 'x'), 'KPNG_ERR_SNAPSHOT_EMPTY'],
      [new KubeAPIError(500, 'x'), 'KPNG_ERR_KUBE_API'],
      [new KubeConfigError('x'), 'KPNG_ERR_KUBECONFIG'],
      [new NftSetupError('x'), 'KPNG_ERR_NFT_SETUP'],
      [new RuleSetupError('x'), 'KPNG_ERR_IPTABLES_SETUP'],
      [new RuleApplyError({ code: 'KPNG_ERR_NFT_TRANSACTION', command: ['nft'], input: '', exitCode: 1, stderr: 'no' }), 'KPNG_ERR_NFT_TRANSACTION'],
      [new KpngError('KPNG_ERR_USAGE', 'x'), 'KPNG_ERR_USAGE'],
    ];
    for (const [e, c] of errors) {
      expect(e.code).toBe(c);
      expect(e.message.startsWith(`${c}: `), e.message).toBe(true);
    }
    expect(errorText(code, 'what was wrong (accepted: ...)')).toBe('KPNG_ERR_SYNC_FAILED: what was wrong (accepted: ...)');
    expect(errorDetail(errorText(code, 'a: b'))).toBe('a: b');
    expect(harnessErrorText('KPNG_ERR_NOT_ROOT', 'x')).toBe('KPNG_ERR_NOT_ROOT: x');
  });

  it('README.md’s "Error codes" section lists both tables (UPDATE_README=1 rewrites it)', () => {
    const rows = (table: Record<string, string>) => Object.entries(table).map(([c, meaning]) => `| \`${c}\` | ${meaning} |`);
    const section = [
      '## Error codes',
      '',
      'Every error the proxy and the harness log or throw starts with its code, then says what was',
      'wrong and what is accepted. The tables below are `proxy/errors.ts`, each backend\'s own',
      'codes (its descriptor\'s `errors`) and `harness/config/error-codes.ts` (a test keeps them,',
      'the source and this list in step).',
      '',
      '| proxy code | meaning |',
      '|---|---|',
      ...rows(errorCodes),
      '',
      '| backend | code | meaning |',
      '|---|---|---|',
      ...backendTables.flatMap((b) => Object.entries(b.table).map(([c, meaning]) => `| ${b.name} | \`${c}\` | ${meaning} |`)),
      '',
      '| harness code | meaning |',
      '|---|---|',
      ...rows(harnessErrorCodes),
      '',
    ].join('\n');
    const readme = read('README.md');
    const current = /## Error codes\n[\s\S]*?\n(?=## )/.exec(readme)?.[0];
    if (process.env.UPDATE_README === '1') {
      writeFileSync(path.join(repo, 'README.md'), current === undefined ? readme.replace('\n## Tests\n', `\n${section}\n## Tests\n`) : readme.replace(current, `${section}\n`));
      return;
    }
    expect(current, 'README.md differs from the error-code tables (UPDATE_README=1 rewrites its section)').toBe(`${section}\n`);
  });
});
