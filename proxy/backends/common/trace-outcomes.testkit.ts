// What the packet tracers of the rule-text backends share: folding the paths a packet can
// take into outcomes, one per distinct result, with the probability of reaching it.

/** The fields by which two traced paths count as the same outcome. */
export interface OutcomeCore {
  verdict: string;
  probability: number;
  dnat?: string;
  masquerade: boolean;
  rejectWith?: string;
}

type ListKey<O> = { [K in keyof O]: O[K] extends string[] ? K : never }[keyof O];

/**
 * Merges paths with the same verdict, DNAT target, masquerade and reject answer: their
 * probabilities add up and the affinity lists named by `listKey` are united (first path's
 * order). Paths that cannot happen (probability 0) are left out. Sorted by probability,
 * then by DNAT target.
 */
export function mergeOutcomes<O extends OutcomeCore>(results: readonly O[], listKey: ListKey<O>): O[] {
  const byKey = new Map<string, O>();
  for (const r of results) {
    const key = `${r.verdict}|${r.dnat ?? ''}|${r.masquerade}|${r.rejectWith ?? ''}`;
    const seen = byKey.get(key);
    if (seen) {
      seen.probability += r.probability;
      const list = seen[listKey] as string[];
      for (const n of r[listKey] as string[]) if (!list.includes(n)) list.push(n);
    } else byKey.set(key, { ...r, [listKey]: [...(r[listKey] as string[])] });
  }
  const near = (x: number, y: number) => Math.abs(x - y) < 1e-9;
  return [...byKey.values()]
    .filter((o) => o.probability > 1e-12)
    .sort((a, b) => (near(a.probability, b.probability) ? (a.dnat ?? '').localeCompare(b.dnat ?? '') : b.probability - a.probability));
}
