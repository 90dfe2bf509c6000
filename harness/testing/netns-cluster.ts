// The opt-in tests of real netns clusters share one shape: a cluster started before the
// file's tests, stopped after them (also when one fails), and kubectl's JSON read from it.
import { afterAll, beforeAll, expect } from 'vitest';
import { startNetnsCluster, type NetnsCluster, type NetnsClusterOptions } from '../cluster/netns/index.ts';

export interface NetnsClusterSuite {
  /** The running cluster (a test that runs without it fails, naming why). */
  cluster: () => NetnsCluster;
  /** `kubectl <args> -o json`, parsed; a non-zero exit fails the test with kubectl's stderr. */
  kubectlJson: <T>(args: string[]) => Promise<T>;
}

/** Starts a cluster with `options` before the enclosing describe's tests (within `startTimeoutMs`) and stops it after them. */
export function netnsClusterSuite(options: Omit<NetnsClusterOptions, 'log'>, startTimeoutMs: number): NetnsClusterSuite {
  let running: NetnsCluster | undefined;
  beforeAll(async () => {
    running = await startNetnsCluster({ ...options, log: (line) => process.stderr.write(`  ${line}\n`) });
  }, startTimeoutMs);
  afterAll(async () => {
    await running?.stop();
  }, 120_000);
  const cluster = () => running ?? expect.unreachable('the cluster exists once beforeAll has run');
  const kubectlJson = async <T>(args: string[]): Promise<T> => {
    const r = await cluster().kubectl([...args, '-o', 'json']);
    expect(r.exitCode, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as T;
  };
  return { cluster, kubectlJson };
}
