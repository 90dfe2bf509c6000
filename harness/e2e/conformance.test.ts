import { describe, expect, it } from 'vitest';
import type { JUnitCase } from '../report/index.ts';
import { CONFORMANCE_BACKENDS, CONFORMANCE_FOCUS, conformanceE2eArgs, conformanceVerdict, type ConformanceRun } from './conformance.ts';
import { matchTarget } from './specs.ts';

const A = '[sig-network] Services should serve a basic endpoint from pods [Conformance]';
const B = '[sig-network] Services should have session affinity work for NodePort service [LinuxOnly] [Conformance]';
const C = '[sig-network] Services should find a service from listing all namespaces [Conformance]';

const spec = (name: string, status: JUnitCase['status'], message?: string): JUnitCase => ({ name, kind: 'spec', status, detail: status, time: 1, suite: 'Kubernetes e2e suite', ...(message ? { message } : {}) });
const run = (backend: string, cases: JUnitCase[] | undefined, expected = [A, B, C]): ConformanceRun => ({ backend, expected, cases, where: `reports/ipv4-${backend}` });

describe('the conformance tier', () => {
  it('focuses on the Services specs marked [Conformance], nothing else of sig-network', () => {
    const re = new RegExp(CONFORMANCE_FOCUS);
    expect([A, B, C].every((t) => re.test(matchTarget({ text: t })))).toBe(true);
    expect(re.test(matchTarget({ text: '[sig-network] Services should serve endpoints on same port and different protocols' }))).toBe(false);
    expect(re.test(matchTarget({ text: '[sig-network] DNS should provide DNS for services  [Conformance]' }))).toBe(false);
  });

  it('runs kube-proxy first (the control), then kpng iptables and nft, on IPv4 netns clusters', () => {
    expect(CONFORMANCE_BACKENDS).toEqual(['kube-proxy', 'iptables', 'nft']);
    expect(conformanceE2eArgs({ results: '/r', ginkgoNodes: 4, timeout: '20m' })).toEqual([
      'e2e', '--cluster', 'netns', '--backend', 'kube-proxy', '--backend', 'iptables', '--backend', 'nft', '--family', 'ipv4', '--focus', CONFORMANCE_FOCUS, '--nodes', '4', '--timeout', '20m', '--results', '/r',
    ]);
  });
});

describe('conformanceVerdict', () => {
  it('has no problem when every selected spec ran and kpng passed what kube-proxy passed', () => {
    const all = [spec(A, 'passed'), spec(B, 'passed'), spec(C, 'passed')];
    const v = conformanceVerdict([run('kube-proxy', all), run('iptables', all), run('nft', all)]);
    expect(v.notRun).toEqual([]);
    expect(v.parity).toEqual([]);
    expect(v.counts).toEqual(['kube-proxy', 'iptables', 'nft'].map((backend) => ({ backend, passed: 3, failed: 0, selected: 3 })));
  });

  it('calls a spec kube-proxy also failed parity, and reports it apart', () => {
    const cases = [spec(A, 'passed'), spec(B, 'failed', 'timeout'), spec(C, 'passed')];
    const v = conformanceVerdict([run('kube-proxy', cases), run('nft', cases)]);
    expect(v.notRun).toEqual([]);
    expect(v.parity).toEqual([]);
    expect(v.controlFailed).toEqual([B]);
  });

  it('names a kpng backend failing a spec kube-proxy passed, with the first line of the failure', () => {
    const v = conformanceVerdict([
      run('kube-proxy', [spec(A, 'passed'), spec(B, 'passed'), spec(C, 'passed')]),
      run('nft', [spec(A, 'passed'), spec(B, 'failed', 'affinity broke\nstack...'), spec(C, 'passed')]),
    ]);
    expect(v.notRun).toEqual([]);
    expect(v.parity).toEqual([`nft: failed "${B}", which kube-proxy passed (affinity broke)`]);
    expect(v.counts[1]).toEqual({ backend: 'nft', passed: 2, failed: 1, selected: 3 });
  });

  it('names a selected spec missing from JUnit or skipped at run time, on any backend', () => {
    const v = conformanceVerdict([
      run('kube-proxy', [spec(A, 'passed'), spec(B, 'skipped', 'needs 3 zones'), spec(C, 'passed')]),
      run('iptables', [spec(A, 'passed'), spec(B, 'passed')]),
    ]);
    expect(v.parity).toEqual([]);
    expect(v.notRun).toEqual([
      `kube-proxy: "${B}" was skipped at run time (needs 3 zones)`,
      `iptables: did not run "${C}" (not in reports/ipv4-iptables)`,
    ]);
  });

  it('names a run that left no JUnit, and a failed setup node', () => {
    const v = conformanceVerdict([
      run('kube-proxy', [spec(A, 'passed'), spec(B, 'passed'), spec(C, 'passed'), { ...spec('[SynchronizedBeforeSuite]', 'failed', 'no nodes'), kind: 'setup' }]),
      run('nft', undefined),
    ]);
    expect(v.notRun).toEqual([
      'kube-proxy: [SynchronizedBeforeSuite] failed (no nodes)',
      'nft: no JUnit in reports/ipv4-nft, so none of its 3 specs ran',
    ]);
  });

  it('names a spec kube-proxy passed that a backend\'s selection leaves out, and an empty selection', () => {
    const v = conformanceVerdict([run('kube-proxy', [spec(A, 'passed')], [A]), run('iptables', [], [])]);
    expect(v.notRun).toEqual([`iptables: the selection holds no spec matching ${CONFORMANCE_FOCUS}`]);
    expect(v.parity).toEqual([`iptables: its selection (e2e/skips.yaml) leaves out "${A}", which kube-proxy passed`]);
  });
});
