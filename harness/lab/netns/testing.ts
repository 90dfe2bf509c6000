// The netns lab for vitest test files: a topology made before the file's tests and
// destroyed after them, also when a test failed.
//
//   const lab = useTopology({ family: 'dual', nodes: ['node-1', 'node-2'], pods: [...] });
//   it('...', async () => { const pod = lab().pod('pod-a'); ... });

import { afterAll, beforeAll } from 'vitest';
import { type Topology, type TopologySpec, createTopology } from './topology.ts';

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
    if (topology === undefined) throw new Error('KPNG_ERR_NETNS_NOT_READY: the topology exists only once beforeAll has run');
    return topology;
  };
}
