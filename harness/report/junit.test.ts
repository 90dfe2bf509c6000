import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseJUnit } from './junit.ts';

const fixture = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');

describe('parseJUnit', () => {
  it("reads Ginkgo's report: specs without the [It] prefix, suite nodes apart, status, time and the failure text", () => {
    const report = parseJUnit(fixture('ginkgo-nft-ipv4.xml'));
    expect(report.suites).toEqual([{ name: 'Kubernetes e2e suite', tests: 6, timestamp: '2026-01-10T12:00:00' }]);
    expect(report.cases.map((c) => [c.kind, c.status, c.name])).toEqual([
      ['setup', 'passed', '[SynchronizedBeforeSuite]'],
      ['spec', 'passed', '[sig-network] Services should serve a basic endpoint from pods  [Conformance]'],
      ['spec', 'failed', '[sig-network] Services should be able to preserve UDP traffic when server pod cycles for a NodePort service'],
      ['spec', 'passed', '[sig-network] Services should implement service.kubernetes.io/headless'],
      ['spec', 'skipped', '[sig-network] LoadBalancers [Feature:LoadBalancer] should be able to change the type and ports of a TCP service [Slow]'],
      ['setup', 'passed', '[ReportAfterSuite] Kubernetes e2e JUnit report'],
    ]);
    const failed = report.cases[2];
    expect(failed?.time).toBe(70.05);
    expect(failed?.message).toBe(
      '[FAILED] failed to receive UDP traffic\nExpected\n    <bool>: false\nto be true\nIn [It] at: k8s.io/kubernetes/test/e2e/network/conntrack.go:121 @ 01/10/26 12:01:10.000',
    );
    expect(report.cases[4]?.message).toBe('skipped');
  });

  it('reads plain JUnit (status from <failure>, <error>, <skipped>) and Ginkgo statuses such as panicked and pending', () => {
    const report = parseJUnit(`<testsuite name="lab">
      <testcase name="a" time="1"/>
      <testcase name="b"><failure message="boom">stack</failure></testcase>
      <testcase name="c"><error message="broken"/></testcase>
      <testcase name="d"><skipped/></testcase>
      <testcase name="e" status="panicked"><error message="" type="panicked">panic: x</error></testcase>
      <testcase name="f" status="pending"></testcase>
      <testcase name="g" status="timedout"><failure type="timedout">took too long</failure></testcase>
    </testsuite>`);
    expect(report.cases.map((c) => `${c.name}:${c.status}:${c.detail}:${c.message ?? ''}`)).toEqual([
      'a:passed:passed:',
      'b:failed:failure:stack',
      'c:failed:error:broken',
      'd:skipped:skipped:',
      'e:failed:panicked:panic: x',
      'f:skipped:pending:',
      'g:failed:timedout:took too long',
    ]);
  });

  it('names the file when the document is not JUnit', () => {
    expect(() => parseJUnit('<html/>', 'out/junit_01.xml')).toThrow(
      'KPNG_ERR_JUNIT: out/junit_01.xml: the root element is <html>; accepted: <testsuites> or <testsuite>',
    );
    expect(() => parseJUnit('<testsuite name="s"><testcase/></testsuite>', 'x.xml')).toThrow(/x.xml: a <testcase> in suite "s" has no name/);
  });
});
