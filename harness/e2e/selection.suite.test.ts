// The e2e selections against the real upstream suite (e2e.test and ginkgo of the pinned
// Kubernetes version): each backend × family's --focus/--skip composed from e2e/skips.yaml
// and verified against e2e.test's own spec list; ginkgo's dry run selects exactly the same
// specs (so Go's regexp reads our patterns as we do); KPNG's trailing "|" really runs
// nothing and is refused; and the parity report reads the JUnit e2e.test writes.
import { execa } from 'execa';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labSpecs } from '../../e2e/lab/index.ts';
import { backendNames, ipFamilies } from '../config/index.ts';
import { main } from '../cli/main.ts';
import { k8sVersion, repoRoot } from '../k8s-binaries.ts';
import { parityReport, parseJUnit } from '../report/index.ts';
import { requireK8sBinaries } from './binaries.ts';
import { ginkgoRunCommand } from './ginkgo.ts';
import { SelectionError, composeSelection, verifySelection, type Selection, type VerifiedSelection } from './selection.ts';
import { skipNotesFrom } from './skip-notes.ts';
import { listSpecs } from './specs.ts';
import { parseSuites } from './suites.ts';

// Under CI=true this tier runs even without the binaries: this line then fails the file, saying how to get them.
const binaries = requireK8sBinaries(['e2e.test', 'ginkgo']);
const suitesText = await readFile(path.join(repoRoot, 'e2e/skips.yaml'), 'utf8');
const suites = parseSuites(suitesText);
const specs = await listSpecs(binaries['e2e.test']);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kpng-suite-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const dryRuns = new Map<string, Promise<{ junit: string; stdout: string }>>();

/** ginkgo --dry-run with the run's own command line (one process: ginkgo dry-runs only serially); the JUnit e2e.test writes. Once per focus/skip. */
function dryRun(selection: Pick<Selection, 'focus' | 'skip'>, name: string): Promise<{ junit: string; stdout: string }> {
  const key = `${selection.focus}\n${selection.skip}`;
  const known = dryRuns.get(key);
  if (known) return known;
  const started = runDry(selection, name);
  dryRuns.set(key, started);
  return started;
}

async function runDry(selection: Pick<Selection, 'focus' | 'skip'>, name: string): Promise<{ junit: string; stdout: string }> {
  const reportDir = await mkdtemp(path.join(dir, `${name}-`));
  const command = ginkgoRunCommand({ ginkgo: binaries.ginkgo, e2eTest: binaries['e2e.test'], selection, kubeconfig: path.join(reportDir, 'kubeconfig'), reportDir, nodes: 1 });
  const result = await execa(command.file, ['--dry-run', ...command.args], { env: command.env, cwd: reportDir, reject: false });
  expect(result.exitCode, result.stdout.slice(-2000)).toBe(0);
  return { junit: await readFile(path.join(reportDir, 'junit_01.xml'), 'utf8'), stdout: result.stdout };
}

// The backends the proxy offers (kpng backends --json), and those e2e/skips.yaml scopes an
// entry to (userspace, before the proxy registers it): their selections are composed alike.
const offered = backendNames();
const backends = [...new Set([...offered, ...suites.skip.flatMap((e) => e.backends ?? [])])];
const selections = new Map<string, VerifiedSelection>();
for (const backend of backends) for (const family of ipFamilies) selections.set(`${backend}/${family}`, verifySelection(composeSelection(suites, backend, family), specs));
const get = (key: string) => selections.get(key) as VerifiedSelection;
const runs = (key: string) => new Set(get(key).selected.map((s) => s.text.trim()));

describe(`the selections, against the ${specs.length} specs of e2e.test ${k8sVersion()}`, () => {
  it('are sound for every backend × family; how many specs each runs', () => {
    const table = [...selections].map(([key, s]) => `  ${key.padEnd(16)} ${String(s.focused).padStart(4)} focused ${String(s.focused - s.selected.length).padStart(4)} skipped ${String(s.selected.length).padStart(4)} run`);
    console.log(`e2e selections (e2e/skips.yaml, e2e.test ${k8sVersion()}):\n${table.join('\n')}`);
    expect(specs.length).toBeGreaterThan(5000);
    for (const [key, s] of selections) {
      expect(s.selected.length, key).toBeGreaterThan(300);
      expect(s.selected.some((spec) => /\[Serial\]|\[Disruptive\]|\[Feature:LoadBalancer\]/.test(spec.text)), key).toBe(false);
      expect(s.selected.filter((spec) => spec.text.startsWith('[sig-network] Services ')).length, key).toBeGreaterThan(40);
    }
  });

  it('run the dual-stack specs in the dual family only, and leave the source-IP spec out for userspace only', () => {
    const dualStack = '[sig-network] [Feature:IPv6DualStack] should create service with ipv4,v6 cluster ip';
    expect(runs('nft/dual').has(dualStack)).toBe(true);
    expect(runs('nft/ipv4').has(dualStack)).toBe(false);
    expect(runs('nft/ipv6').has(dualStack)).toBe(false);
    const sourceIP = '[sig-network] Services should preserve source pod IP for traffic thru service cluster IP [LinuxOnly]';
    expect(runs('iptables/ipv4').has(sourceIP)).toBe(true);
    expect(runs('userspace/ipv4').has(sourceIP)).toBe(false);
    expect(runs('nft/ipv4').has('[sig-network] Networking should check kube-proxy urls')).toBe(true);
  });

  it('are read by ginkgo exactly as here: its dry run selects the same specs, by name', async () => {
    const distinct = new Map<string, VerifiedSelection>();
    for (const s of selections.values()) distinct.set(`${s.focus}\n${s.skip}`, s);
    // Backends with no entry of their own share two selections (one family, dual); each backend with entries of its own has two.
    const own = new Set(suites.skip.flatMap((e) => e.backends ?? []));
    expect(distinct.size).toBe(2 * (own.size + (backends.some((b) => !own.has(b)) ? 1 : 0)));
    for (const s of distinct.values()) {
      const report = parseJUnit((await dryRun(s, `${s.backend}-${s.family}`)).junit);
      const ran = report.cases.filter((c) => c.kind === 'spec' && c.status === 'passed').map((c) => c.name);
      expect(report.cases.filter((c) => c.kind === 'spec')).toHaveLength(specs.length);
      // JUnit names are trimmed; a few It texts end in a space.
      expect(ran.sort(), `${s.backend}/${s.family}`).toEqual(s.selected.map((spec) => spec.text.trim()).sort());
    }
  });
});

describe('the lab specs, against the real suite', () => {
  it('each names a spec of e2e.test by its exact text, so the parity report lines them up and e2e/skips.yaml finds them', () => {
    const texts = new Set(specs.map((spec) => spec.text.trim()));
    expect(labSpecs.filter((spec) => !texts.has(spec.upstream)).map((spec) => `${spec.id}: ${spec.upstream}`)).toEqual([]);
  });
});

describe("KPNG's broken skip list, against the real suite", () => {
  const broken = parseSuites(`${suitesText}\n  - regex: '\\[Slow\\]|'\n    reason: slow ones\n    link: https://example.com/slow\n`);
  const line = suitesText.split('\n').length + 1;

  it('a skip regex ending in "|" makes ginkgo run nothing at all', async () => {
    const selection = composeSelection(broken, 'iptables', 'ipv4');
    expect(selection.skip.endsWith('|(?:\\[Slow\\]|)')).toBe(true);
    const { stdout, junit } = await dryRun(selection, 'kpng-bug');
    expect(stdout).toMatch(new RegExp(`Ran 0 of ${specs.length} Specs`));
    expect(parseJUnit(junit).cases.filter((c) => c.kind === 'spec' && c.status === 'passed')).toEqual([]);
  });

  it('is refused before any cluster is made, naming the entry and its line', () => {
    let error: SelectionError | undefined;
    try {
      verifySelection(composeSelection(broken, 'iptables', 'ipv4'), specs);
    } catch (caught) {
      error = caught as SelectionError;
    }
    expect(error).toBeInstanceOf(SelectionError);
    expect(error?.problems).toEqual([
      `skip entry at e2e/skips.yaml:${line} (regex "\\\\[Slow\\\\]|") matches the empty string, so it matches every spec (an empty alternative: a "|" at the start or end, or "||"?)`,
    ]);
  });

  it('make e2e-selection fails on it with exit 1, and passes on the real file printing every count', async () => {
    const file = path.join(dir, 'broken-skips.yaml');
    await writeFile(file, `${suitesText}\n  - regex: '\\[Slow\\]|'\n    reason: slow ones\n    link: https://example.com/slow\n  - text: '[sig-network] Services should do what it did in 1.20'\n    reason: renamed\n    link: https://example.com/renamed\n`);
    const output: string[] = [];
    const ctx = { cwd: dir, env: {}, out: (t: string) => output.push(t), log: (l: string) => output.push(l), repo: repoRoot };
    expect(await main(['e2e-selection', '--suites', file, '--backend', 'nft', '--family', 'ipv6'], ctx)).toBe(1);
    expect(output.join('\n')).toMatch(new RegExp(`^KPNG_ERR_E2E_SELECTION: ${file} does not give a sound selection \\(checked against the ${specs.length} specs of e2e.test ${k8sVersion()}\\):\\n  nft/ipv6:\\n    - skip entry at ${file}:${line} \\(regex "\\\\\\\\\\[Slow\\\\\\\\\\]\\|"\\) matches the empty string`));
    expect(output.join('\n')).toContain(`skip entry at ${file}:${line + 3} (text "[sig-network] Services should do what it did in 1.20") skips none of the`);

    output.length = 0;
    expect(await main(['e2e-selection'], ctx)).toBe(0);
    const lines = output.join('').trim().split('\n');
    expect(lines[0]).toBe(`e2e selections from e2e/skips.yaml, verified against the ${specs.length} specs of e2e.test ${k8sVersion()}:`);
    expect(lines).toHaveLength(2 + offered.length * ipFamilies.length);
    expect(lines).toContain(`nft        dual        ${String(get('nft/dual').focused).padStart(3)}      ${String(get('nft/dual').focused - get('nft/dual').selected.length).padStart(3)}  ${get('nft/dual').selected.length}`);
  });
});

describe('the parity report, from the JUnit e2e.test writes', () => {
  it('has a column per run with its counts, and says why a spec was skipped where it was', async () => {
    const keys = ['iptables/ipv4', 'nft/dual', 'userspace/ipv4'];
    const junits = await Promise.all(keys.map(async (key) => (await dryRun(get(key), key.replace('/', '-'))).junit));
    const report = parityReport(
      keys.map((key, i) => ({ backend: key.split('/')[0]!, family: key.split('/')[1]!, junit: junits[i]! })),
      { skipNote: skipNotesFrom(suites), generatedAt: new Date(0) },
    );
    expect(report.matrix.columns.map((c) => [c.label, c.passed, c.failed])).toEqual(keys.map((key) => [key, get(key).selected.length, 0]));
    const row = (spec: string) => report.matrix.rows.find((r) => r.spec === spec);
    const sourceIP = row('[sig-network] Services should preserve source pod IP for traffic thru service cluster IP [LinuxOnly]');
    expect(sourceIP?.cells.map((c) => c?.status)).toEqual(['passed', 'passed', 'skipped']);
    expect(sourceIP?.cells[2]?.skipNote).toEqual({
      reason: expect.stringMatching(/^e2e\/skips.yaml: the userspace backend relays each connection/),
      link: 'https://github.com/kubernetes/kubernetes/blob/v1.34.4/test/e2e/network/service.go#L1027',
    });
    const dualStack = row('[sig-network] [Feature:IPv6DualStack] should create service with ipv4,v6 cluster ip');
    expect(dualStack?.cells.map((c) => c?.status)).toEqual(['skipped', 'passed', 'skipped']);
    expect(dualStack?.cells[0]?.skipNote?.reason).toBe('e2e/skips.yaml: needs a dual-stack cluster; these run in the dual family');
    expect(report.matrix.rows.length).toBe(new Set([...runs('iptables/ipv4'), ...runs('nft/dual'), ...runs('userspace/ipv4')]).size);
    expect(report.html).toContain('title="skipped: e2e/skips.yaml: needs a dual-stack cluster; these run in the dual family"><a href="https://github.com/kubernetes/kubernetes/blob/v1.34.4/test/e2e/network/dual_stack.go">');
  });
});
