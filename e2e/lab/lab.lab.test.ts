// CI's lab run: the lab conformance suite for iptables and nft, on IPv4 and dual-stack,
// on one control plane, as `make lab-matrix` runs it (JUnit and the matrix go to
// reports/lab-ci). Each backend × family must pass every spec it does not skip.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Backend, IpFamily } from '../../harness/config/index.ts';
import { backendAvailable } from '../../harness/lab/cluster/index.ts';
import { runLab, type LabRunSummary } from '../../harness/lab/suite/index.ts';
import { repoRoot } from '../../harness/k8s-binaries.ts';
import { labSpecs } from './index.ts';

const BACKENDS: Backend[] = ['iptables', 'nft'];
const FAMILIES: IpFamily[] = ['ipv4', 'dual'];

describe('the lab conformance suite', () => {
  let summary: LabRunSummary;
  const output: string[] = [];

  beforeAll(async () => {
    for (const backend of BACKENDS) expect(await backendAvailable(backend), `kpng offers to-${backend}`).toBe(true);
    summary = await runLab({
      backends: BACKENDS,
      families: FAMILIES,
      specs: labSpecs,
      parallel: 6,
      reportDir: path.join(repoRoot, 'reports/lab-ci'),
      color: false,
      out: (line) => {
        output.push(line);
        process.stdout.write(`${line}\n`);
      },
    });
  });

  for (const backend of BACKENDS) {
    for (const family of FAMILIES) {
      it(`passes on ${backend}/${family}`, () => {
        const run = summary.runs.find((r) => r.backend === backend && r.family === family);
        expect(run, `no ${backend}/${family} run; output:\n${output.join('\n')}`).toBeDefined();
        expect(run?.setupError).toBeUndefined();
        const failed = (run?.results ?? []).filter((r) => r.status === 'failed').map((r) => `${r.id}: ${r.message ?? ''}`);
        expect(failed, failed.join('\n\n')).toEqual([]);
        // Only specs that need both families may be skipped, and only on a single-family lab.
        const skipped = (run?.results ?? []).filter((r) => r.status === 'skipped');
        for (const r of skipped) expect(`${r.id}: ${r.message ?? ''}`).toMatch(family === 'dual' ? /^$/ : /: needs both IP families/);
      });
    }
  }

  it('writes JUnit per run and the parity matrix', () => {
    expect(summary.runs.map((r) => path.relative(path.join(repoRoot, 'reports/lab-ci'), r.junitFile)).sort()).toEqual(
      ['dual-iptables/junit_lab.xml', 'dual-nft/junit_lab.xml', 'ipv4-iptables/junit_lab.xml', 'ipv4-nft/junit_lab.xml'],
    );
    for (const label of ['iptables/ipv4', 'iptables/dual', 'nft/ipv4', 'nft/dual']) expect(summary.markdown).toContain(label);
    expect(summary.htmlFile).toBe(path.join(repoRoot, 'reports/lab-ci/parity.html'));
  });
});
