import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildParityMatrix, parityReport, readParityRuns, writeParityReport, type ParityRun } from './index.ts';

const fixture = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');
const basic = '[sig-network] Services should serve a basic endpoint from pods  [Conformance]';
const udp = '[sig-network] Services should be able to preserve UDP traffic when server pod cycles for a NodePort service';
const headless = '[sig-network] Services should implement service.kubernetes.io/headless';

const brokenSetup = `<testsuites><testsuite name="Kubernetes e2e suite">
  <testcase name="[SynchronizedBeforeSuite]" status="failed"><failure type="failed">[FAILED] no nodes are Ready
after 10m0s</failure></testcase>
  <testcase name="[It] ${basic}" status="failed"><failure type="failed">[FAILED] suite setup failed</failure></testcase>
</testsuite></testsuites>`;

const runs: ParityRun[] = [
  { backend: 'iptables', family: 'ipv4', junit: fixture('ginkgo-iptables-ipv4.xml') },
  { backend: 'nft', family: 'ipv4', junit: [fixture('ginkgo-nft-ipv4.xml')] },
  { backend: 'nft', family: 'ipv6', junit: brokenSetup },
];

describe('buildParityMatrix', () => {
  const matrix = buildParityMatrix(runs, (spec, run) =>
    spec === headless && run.backend === 'iptables' ? { reason: 'not implemented yet', link: 'https://example.com/issue/1' } : undefined,
  );

  it('has one column per run with its totals and failed suite nodes', () => {
    expect(matrix.columns.map((c) => [c.label, c.passed, c.failed, c.skipped, c.time])).toEqual([
      ['iptables/ipv4', 2, 0, 2, 51],
      ['nft/ipv4', 2, 1, 1, 92.3],
      ['nft/ipv6', 0, 1, 0, 0],
    ]);
    expect(matrix.columns[2]?.setupFailures).toEqual([{ name: '[SynchronizedBeforeSuite]', message: '[FAILED] no nodes are Ready\nafter 10m0s' }]);
    expect(matrix.columns[0]?.setupFailures).toEqual([]);
  });

  it('has one row per spec that ran somewhere, sorted, marking specs that pass here and fail there', () => {
    expect(matrix.rows.map((r) => [r.spec, r.cells.map((c) => c?.status ?? '-').join(','), r.differs, r.failing])).toEqual([
      [udp, 'passed,failed,-', true, true],
      [headless, 'skipped,passed,-', false, false],
      [basic, 'passed,passed,failed', true, true],
    ]);
    expect(matrix.skippedEverywhere).toBe(1);
    expect(matrix.rows[1]?.cells[0]?.skipNote).toEqual({ reason: 'not implemented yet', link: 'https://example.com/issue/1' });
  });

  it('keeps the worst result when a spec is reported twice in one run', () => {
    const twice = buildParityMatrix([{ backend: 'userspace', family: 'ipv4', junit: [fixture('ginkgo-iptables-ipv4.xml'), fixture('ginkgo-nft-ipv4.xml')] }]);
    expect(twice.rows.find((r) => r.spec === udp)?.cells[0]?.status).toBe('failed');
  });

  it('refuses no runs, and two runs with one label', () => {
    expect(() => buildParityMatrix([])).toThrow(/^KPNG_ERR_REPORT: no runs/);
    expect(() => buildParityMatrix([runs[0]!, runs[0]!])).toThrow('KPNG_ERR_REPORT: two runs are labelled iptables/ipv4; give each backend/family once');
  });
});

describe('parityReport', () => {
  const report = parityReport(runs, { subtitle: 'Kubernetes v1.34.4', generatedAt: new Date('2026-01-10T13:00:00Z') });

  it('renders markdown for the terminal and the CI summary', async () => {
    await expect(report.markdown).toMatchFileSnapshot('./__snapshots__/parity.md');
    expect(report.markdown).toContain('## Upstream e2e parity: 2 backends × 2 IP families');
    expect(report.markdown).toContain(`| ${udp} | ✅ | ❌ | · |`);
  });

  it('renders one self-contained HTML page: nothing fetched, every value escaped', () => {
    const { html } = report;
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<link|<img|\ssrc=|@import|url\(/);
    expect(html).toContain('<th>nft/ipv6</th>');
    expect(html).toContain('generated 2026-01-10T13:00:00.000Z');
    expect(html).toContain('title="failed in 1m10s: [FAILED] failed to receive UDP traffic');
    const hostile = parityReport([{ backend: 'nft', family: 'dual', junit: `<testsuite name="s"><testcase name="[It] a &lt;script&gt;alert(1)&lt;/script&gt; spec"/></testsuite>` }]);
    expect(hostile.html).toContain('a &lt;script&gt;alert(1)&lt;/script&gt; spec');
    expect(hostile.html.match(/<script>/g)).toHaveLength(1);
    expect(hostile.markdown).toContain('| a &lt;script>alert(1)&lt;/script> spec | ✅ |');
  });

  it('links a skipped cell to the reason it was skipped', () => {
    const { html } = parityReport(runs, { skipNote: (spec) => (spec === headless ? { reason: 'needs <x>', link: 'https://example.com/s?a=1&b=2' } : undefined) });
    expect(html).toContain('title="skipped: needs &lt;x&gt;"><a href="https://example.com/s?a&#x3D;1&amp;b&#x3D;2">⏭️</a>');
  });
});

describe('results folders', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kpng-report-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads <family>-<backend>/junit*.xml, lists folders without JUnit, ignores other folders', async () => {
    const results = path.join(dir, 'e2e');
    await mkdir(path.join(results, 'ipv4-iptables'), { recursive: true });
    await mkdir(path.join(results, 'ipv4-nft'), { recursive: true });
    await mkdir(path.join(results, 'dual-kube-proxy'), { recursive: true });
    await mkdir(path.join(results, 'logs'), { recursive: true });
    await writeFile(path.join(results, 'ipv4-iptables', 'junit_01.xml'), fixture('ginkgo-iptables-ipv4.xml'));
    await writeFile(path.join(results, 'ipv4-nft', 'junit_01.xml'), fixture('ginkgo-nft-ipv4.xml'));
    await writeFile(path.join(results, 'ipv4-nft', 'e2e.log'), 'not junit');
    const { runs: found, empty } = await readParityRuns(results);
    expect(found.map((r) => [r.family, r.backend, r.files?.map((f) => path.relative(results, f))])).toEqual([
      ['ipv4', 'iptables', ['ipv4-iptables/junit_01.xml']],
      ['ipv4', 'nft', ['ipv4-nft/junit_01.xml']],
    ]);
    expect(empty).toEqual([path.join(results, 'dual-kube-proxy')]);
    await expect(readParityRuns(path.join(results, 'logs'))).rejects.toThrow(/^KPNG_ERR_REPORT: no JUnit found under .*logs; expected <family>-<backend>\/junit\*\.xml folders/);
    await expect(readParityRuns(path.join(dir, 'nope'))).rejects.toThrow(/cannot read the results folder/);
  });

  it('puts kube-proxy, the reference, first, whatever its folder sorts as; the kpng backends follow in folder order', async () => {
    const results = path.join(dir, 'ordered');
    for (const folder of ['ipv4-ebpf', 'ipv4-kube-proxy', 'ipv4-nft']) {
      await mkdir(path.join(results, folder), { recursive: true });
      await writeFile(path.join(results, folder, 'junit_01.xml'), fixture('ginkgo-nft-ipv4.xml'));
    }
    const { runs: found } = await readParityRuns(results);
    expect(found.map((r) => r.backend)).toEqual(['kube-proxy', 'ebpf', 'nft']);
    expect(parityReport(found).matrix.columns.map((c) => c.label)).toEqual(['kube-proxy/ipv4', 'ebpf/ipv4', 'nft/ipv4']);
  });

  it('writes parity.md and parity.html and appends the markdown to the job summary', async () => {
    const summaryFile = path.join(dir, 'summary.md');
    await writeFile(summaryFile, '# earlier step\n');
    const report = parityReport(runs);
    const written = await writeParityReport(report, { dir: path.join(dir, 'out'), summaryFile });
    expect(await readFile(written.markdownFile, 'utf8')).toBe(report.markdown);
    expect(await readFile(written.htmlFile, 'utf8')).toBe(report.html);
    expect(await readFile(summaryFile, 'utf8')).toBe(`# earlier step\n${report.markdown}\n`);
  });
});
