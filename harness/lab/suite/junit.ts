// Lab results as JUnit XML, in the shape the upstream e2e runner's reports take: one
// <testsuite> per run, one <testcase> per spec named after the upstream spec it follows,
// <failure> with the message, <skipped> with the reason.
import type { SpecResult } from './runner.ts';

export interface JUnitRun {
  backend: string;
  family: string;
  model: string;
  results: readonly SpecResult[];
  timestamp: Date;
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

/** The JUnit text of one lab run. */
export function junitXml(run: JUnitRun): string {
  const failures = run.results.filter((r) => r.status === 'failed').length;
  const skipped = run.results.filter((r) => r.status === 'skipped').length;
  const total = run.results.reduce((sum, r) => sum + r.durationMs, 0);
  const suite = `kpng lab ${run.backend} ${run.family}`;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites tests="${run.results.length}" failures="${failures}" disabled="${skipped}" errors="0" time="${seconds(total)}">`,
    `  <testsuite name="${escapeXml(suite)}" package="kpng-lab" tests="${run.results.length}" failures="${failures}" skipped="${skipped}" errors="0" time="${seconds(total)}" timestamp="${run.timestamp.toISOString().slice(0, 19)}">`,
    '    <properties>',
    ...Object.entries({ backend: run.backend, family: run.family, model: run.model }).map(([name, value]) => `      <property name="${name}" value="${escapeXml(value)}"></property>`),
    '    </properties>',
  ];
  for (const r of run.results) {
    const open = `    <testcase name="${escapeXml(r.upstream)}" classname="kpng lab" status="${r.status}" time="${seconds(r.durationMs)}">`;
    const id = `      <system-out>${escapeXml(`lab spec ${r.id} (follows ${r.source})`)}</system-out>`;
    if (r.status === 'failed') lines.push(open, `      <failure message="${escapeXml(firstLine(r.message ?? ''))}" type="failed">${escapeXml(r.message ?? '')}</failure>`, id, '    </testcase>');
    else if (r.status === 'skipped') lines.push(open, `      <skipped message="${escapeXml(r.message ?? '')}"></skipped>`, id, '    </testcase>');
    else lines.push(open, id, '    </testcase>');
  }
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}
