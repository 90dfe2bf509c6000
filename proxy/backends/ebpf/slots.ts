// Endpoint slots of one endpoint set: dense 0..n-1 (the program picks slot = random % n),
// and stable, so an endpoint that stays keeps its slot (ClientIP affinity remembers slots)
// and a change of k endpoints rewrites O(k) slots, never the whole set.

/** The next slot order for `next` (endpoint ids, deduplicated) given the previous order. */
export function assignSlots(prev: readonly string[], next: readonly string[]): string[] {
  const want = new Set(next);
  const out: (string | undefined)[] = prev.map((id) => (want.has(id) ? id : undefined));
  const placed = new Set(out.filter((id): id is string => id !== undefined));
  const fresh = [...want].filter((id) => !placed.has(id));
  // New endpoints fill the holes the removed ones left, then go at the end.
  for (let i = 0; i < out.length && fresh.length > 0; i++) if (out[i] === undefined) out[i] = fresh.shift();
  out.push(...fresh);
  // Holes left (more removed than added): the last endpoints move into them.
  for (let i = 0; i < out.length; i++) {
    if (out[i] !== undefined) continue;
    while (out.length > i + 1 && out[out.length - 1] === undefined) out.pop();
    if (out.length > i + 1) out[i] = out.pop();
  }
  while (out.length > 0 && out[out.length - 1] === undefined) out.pop();
  return out as string[];
}
