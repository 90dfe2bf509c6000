// The netns lab for vitest test files: a topology made before the file's tests and
// destroyed after them, also when a test failed.
//
//   const lab = useTopology({ family: 'dual', nodes: ['node-1', 'node-2'], pods: [...] });
//   it('...', async () => { const pod = lab().pod('pod-a'); ... });
//   expect((await probeFailure(pod.httpGet(url))).kind).toBe('refused');

import { afterAll, beforeAll } from 'vitest';
import { ProbeError } from './errors.ts';
import { type Topology, type TopologySpec, createTopology } from './topology.ts';
import { harnessErrorText } from '../../config/error-codes.ts';

/** The ProbeError a probe failed with; throws when the probe was answered (or failed otherwise). */
export async function probeFailure(probe: Promise<unknown>): Promise<ProbeError> {
  try {
    await probe;
  } catch (error) {
    if (error instanceof ProbeError) return error;
    throw error;
  }
  throw new Error('expected the probe to fail, and it got an answer');
}

/**
 * Creates the topology in beforeAll and destroys it in afterAll. Returns a getter for it,
 * usable inside tests and hooks that run after the creation.
 */
export function useTopology(spec: TopologySpec, options: { timeoutMs?: number } = {}): () => Topology {
  let topology: Topology | undefined;
  const timeout = options.timeoutMs ?? 30_000;
  beforeAll(async () => {
    topology = await createTopology(spec);
  }, timeout);
  afterAll(async () => {
    await topology?.destroy();
  }, timeout);
  return () => {
    if (topology === undefined) throw new Error(harnessErrorText('KPNG_ERR_NETNS_NOT_READY', 'the topology exists only once beforeAll has run'));
    return topology;
  };
}
