import { describe, expect, it } from 'vitest';
import { parseJUnit, parityReport } from '../../report/index.ts';
import { junitXml } from './junit.ts';
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

  it('reads back through harness/report as it was written, escapes included', () => {
    const report = parseJUnit(xml, 'junit_lab.xml');
    expect(report.cases.map((c) => [c.name, c.status, c.message])).toEqual([
      [results[0]!.upstream, 'passed', undefined],
      ['Services should <fail> & "say" why', 'failed', 'x → tcp 10.96.0.1:80 failing with refused: still not so\nsecond line'],
      ['[sig-network] dual', 'skipped', 'needs both IP families'],
    ]);
  });

  it('makes a parity report column per run, as the upstream e2e runs do', () => {
    const other = junitXml({ backend: 'iptables', family: 'dual', model: 'single-process-per-node', results: results.map((r) => ({ ...r, status: 'passed' as const })), timestamp: new Date() });
    const { matrix } = parityReport([
      { backend: 'nft', family: 'ipv4', junit: xml },
      { backend: 'iptables', family: 'dual', junit: other },
    ]);
    expect(matrix.columns.map((c) => [c.label, c.passed, c.failed, c.skipped])).toEqual([
      ['nft/ipv4', 1, 1, 1],
      ['iptables/dual', 3, 0, 0],
    ]);
    expect(matrix.rows.find((r) => r.spec.includes('<fail>'))?.differs).toBe(true);
  });
});
