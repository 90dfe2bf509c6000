// "Did you mean" for keys and enumerated values.

export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The candidate the input most likely meant, or undefined when none is close. */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  const lower = input.toLowerCase().replaceAll('-', '_');
  let best: { candidate: string; score: number } | undefined;
  for (const candidate of candidates) {
    const c = candidate.toLowerCase().replaceAll('-', '_');
    let score: number;
    if (c === lower) score = 0;
    else if (lower.length >= 3 && (c.startsWith(lower) || lower.startsWith(c))) score = 1;
    else {
      const distance = editDistance(lower, c);
      score = distance <= Math.max(1, Math.floor(c.length / 3)) ? distance + 1 : Infinity;
    }
    if (score !== Infinity && (best === undefined || score < best.score)) best = { candidate, score };
  }
  return best?.candidate;
}

/** ' (did you mean "x"?)' when a candidate is close, else ''. */
export function didYouMean(input: string, candidates: readonly string[]): string {
  const match = closest(input, candidates);
  return match === undefined ? '' : ` (did you mean "${match}"?)`;
}
