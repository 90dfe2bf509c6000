import { describe, expect, it } from 'vitest';
import { junitXml } from './junit.ts';
import { labMatrix, labParityReport, readLabJUnit } from './report.ts';
import type { SpecResult } from './runner.ts';

const results: SpecResult[] = [
  { id: 'a', upstream: '[sig-network] Services should serve a basic endpoint from pods [Conformance]', source: 'service.go', status: 'passed', durationMs: 1234 },
  { id: 'b', upstream: 'Services should <fail> & "say" why', source: 'service.go', status: 'failed', durationMs: 30_000, message: 'x → tcp 10.96.0.1:80 failing with refused: still not so\nsecond line' },
  { id: 'c', upstream: '[sig-network] dual', source: 'dual_stack.go', status: 'skipped', durationMs: 0, message: 'needs both IP families' },
];
const xml = junitXml({ backend: 'nft', family: 'ipv4', model: 'single-process-per-node', results, timestamp: new Date('2026-01-02T03:04:05Z') });

describe('JUnit of a lab run', () => {
  it('has the counts, the run properties and one case per spec named after the upstream spec', () => {
    expect(xml).toContain('<testsuite name="kpng lab nft ipv4" package="kpng-lab" tests="3" failures="1" skipped="1" errors="0" time="31.234" timestamp="2026-01-02T03:04:05">');
    expect(xml).toContain('<property name="backend" value="nft"></property>');
    expect(xml).toContain('<testcase name="[sig-network] Services should serve a basic endpoint from pods [Conformance]" classname="kpng lab" status="passed" time="1.234">');
    expect(xml).toContain('<failure message="x → tcp 10.96.0.1:80 failing with refused: still not so" type="failed">');
    expect(xml).toContain('<skipped message="needs both IP families"></skipped>');
  });

  it('reads back as it was written, escapes included', () => {
    expect(readLabJUnit(xml)).toEqual([
      { name: results[0]!.upstream, status: 'passed' },
      { name: 'Services should <fail> & "say" why', status: 'failed', message: 'x → tcp 10.96.0.1:80 failing with refused: still not so\nsecond line' },
      { name: '[sig-network] dual', status: 'skipped', message: 'needs both IP families' },
    ]);
  });
});

describe('the parity matrix', () => {
  const other = junitXml({ backend: 'iptables', family: 'dual', model: 'single-process-per-node', results: results.map((r) => ({ ...r, status: 'passed' as const })), timestamp: new Date() });

  it('has a row per spec, a column per run, and totals', () => {
    const matrix = labMatrix([
      { backend: 'nft', family: 'ipv4', junit: xml },
      { backend: 'iptables', family: 'dual', junit: [other] },
    ]);
    expect(matrix.columns).toEqual(['nft/ipv4', 'iptables/dual']);
    expect(matrix.rows.map((r) => r.cells.map((c) => c?.status))).toEqual([
      ['passed', 'passed'],
      ['failed', 'passed'],
      ['skipped', 'passed'],
    ]);
    expect(matrix.totals).toEqual([
      { passed: 1, failed: 1, skipped: 1 },
      { passed: 3, failed: 0, skipped: 0 },
    ]);
  });

  it('renders markdown with marks and notes, and HTML with the messages on hover', () => {
    const { markdown, html } = labParityReport([{ backend: 'nft', family: 'ipv4', junit: xml }], { generatedAt: new Date('2026-01-02T03:04:05Z') });
    expect(markdown).toContain('| spec | nft/ipv4 |');
    expect(markdown).toContain('| Services should <fail> & "say" why | ❌ |');
    expect(markdown).toContain('| **passed / failed / skipped** | 1 / 1 / 1 |');
    expect(markdown).toContain('- ❌ nft/ipv4: Services should <fail> & "say" why: x → tcp 10.96.0.1:80 failing with refused: still not so\n');
    expect(html).toContain('<td class="failed" title="x → tcp 10.96.0.1:80 failing with refused: still not so\nsecond line">❌</td>');
    expect(html).toContain('<td class="name">Services should &lt;fail&gt; &amp; &quot;say&quot; why</td>');
    expect(html).toContain('Generated 2026-01-02T03:04:05.000Z');
  });
});
