import { describe, expect, it } from 'vitest';
import { mergeOutcomes } from './trace-outcomes.testkit.ts';

const path = (dnat: string | undefined, probability: number, sets: string[]) => ({
  verdict: 'ACCEPT',
  probability,
  ...(dnat !== undefined && { dnat }),
  masquerade: false,
  sets,
});

describe('mergeOutcomes', () => {
  it('adds up the probabilities of paths with the same result and unites their affinity lists', () => {
    const merged = mergeOutcomes([path('10.0.0.1:80', 0.25, ['a']), path('10.0.0.2:80', 0.5, []), path('10.0.0.1:80', 0.25, ['b', 'a'])], 'sets');
    expect(merged).toEqual([path('10.0.0.1:80', 0.5, ['a', 'b']), path('10.0.0.2:80', 0.5, [])]);
  });

  it('leaves out paths that cannot happen and sorts by probability, most likely first', () => {
    const merged = mergeOutcomes([path('10.0.0.3:80', 0, []), path('10.0.0.2:80', 0.25, []), path('10.0.0.1:80', 0.75, [])], 'sets');
    expect(merged.map((o) => o.dnat)).toEqual(['10.0.0.1:80', '10.0.0.2:80']);
  });

  it('does not change the paths it was given', () => {
    const first = path('10.0.0.1:80', 0.5, ['a']);
    mergeOutcomes([first, path('10.0.0.1:80', 0.5, ['b'])], 'sets');
    expect(first).toEqual(path('10.0.0.1:80', 0.5, ['a']));
  });
});
