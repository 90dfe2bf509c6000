import { describe, expect, it } from 'vitest';
import { GinkgoProgress, type SpecResult } from './progress.ts';

const read = (text: string): SpecResult[] => {
  const specs: SpecResult[] = [];
  const p = new GinkgoProgress((s) => specs.push(s));
  for (const line of text.split('\n')) p.line(line);
  return specs;
};

describe('GinkgoProgress (ginkgo -v output)', () => {
  it('names each spec that ended, with its result and time, whether the result line comes before or after the name', () => {
    const out = [
      '------------------------------',
      '[SynchronizedBeforeSuite] ',
      'k8s.io/kubernetes@v1.34.4/test/e2e/e2e.go:69',
      '[SynchronizedBeforeSuite] PASSED [0.000 seconds]',
      '------------------------------',
      '• [15.123 seconds]',
      '[sig-network] Services should serve a basic endpoint from pods [Conformance] [sig-network, Conformance]',
      'k8s.io/kubernetes@v1.34.4/test/e2e/network/service.go:740',
      '',
      '  Timeline >>',
      '  STEP: Creating a kubernetes client @ 12/03/26 11:40:01.1',
      '  << Timeline',
      '------------------------------',
      '[sig-network] Services should create a functioning NodePort service [Conformance] [sig-network, Conformance]',
      'k8s.io/kubernetes@v1.34.4/test/e2e/network/service.go:1247',
      '  STEP: something',
      '• [FAILED] [62.5 seconds]',
      '------------------------------',
      '• [TIMEDOUT] [300.000 seconds]',
      '[sig-network] Networking Granular Checks: Services should function for pod-Service: http [sig-network]',
      '  k8s.io/kubernetes@v1.34.4/test/e2e/network/networking.go:145',
    ].join('\n');
    expect(read(out)).toEqual([
      { name: '[sig-network] Services should serve a basic endpoint from pods [Conformance]', result: 'passed', seconds: 15.123 },
      { name: '[sig-network] Services should create a functioning NodePort service [Conformance]', result: 'failed', seconds: 62.5 },
      { name: '[sig-network] Networking Granular Checks: Services should function for pod-Service: http', result: 'timedout', seconds: 300 },
    ]);
  });

  it('names a spec skipped while it ran (S [SKIPPED]), e.g. one needing more zones than the cluster has', () => {
    const out = ['------------------------------', 'S [SKIPPED] [0.512 seconds]', '[sig-network] Traffic Distribution should route traffic to an endpoint in the same zone [sig-network]', 'k8s.io/kubernetes@v1.34.4/test/e2e/network/traffic_distribution.go:102'].join('\n');
    expect(read(out)).toEqual([{ name: '[sig-network] Traffic Distribution should route traffic to an endpoint in the same zone', result: 'skipped', seconds: 0.512 }]);
  });

  it('reports nothing for the suite nodes nor for a result without a name', () => {
    expect(read('[ReportAfterSuite] Kubernetes e2e suite report\nk8s.io/kubernetes@v1.34.4/test/e2e/e2e_test.go:157\n[ReportAfterSuite] PASSED [0.000 seconds]\n------------------------------\n• [1.0 seconds]\n------------------------------')).toEqual([]);
  });
});
