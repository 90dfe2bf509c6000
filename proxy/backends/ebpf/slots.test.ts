import { describe, expect, it } from 'vitest';
import { assignSlots } from './slots.ts';

describe('assignSlots', () => {
  it('keeps the slots of endpoints that stay', () => {
    expect(assignSlots(['a', 'b', 'c'], ['c', 'a', 'b'])).toEqual(['a', 'b', 'c']);
  });
  it('puts a new endpoint into the hole a removed one left', () => {
    expect(assignSlots(['a', 'b', 'c'], ['a', 'c', 'd'])).toEqual(['a', 'd', 'c']);
  });
  it('moves the last endpoint into a hole when the set shrinks, so slots stay dense', () => {
    expect(assignSlots(['a', 'b', 'c', 'd'], ['a', 'c', 'd'])).toEqual(['a', 'd', 'c']);
    expect(assignSlots(['a', 'b', 'c', 'd'], ['d'])).toEqual(['d']);
    expect(assignSlots(['a', 'b', 'c', 'd'], ['a', 'b'])).toEqual(['a', 'b']);
  });
  it('appends endpoints beyond the holes, and empties to nothing', () => {
    expect(assignSlots([], ['x', 'y'])).toEqual(['x', 'y']);
    expect(assignSlots(['a'], ['b', 'c', 'a'])).toEqual(['a', 'b', 'c']);
    expect(assignSlots(['a', 'b'], [])).toEqual([]);
  });
  it('changes only as many slots as endpoints changed', () => {
    const prev = Array.from({ length: 100 }, (_, i) => `e${i}`);
    const next = prev.filter((id) => id !== 'e10').concat('n1');
    const out = assignSlots(prev, next);
    expect(out.filter((id, i) => prev[i] !== id)).toEqual(['n1']);
    expect(new Set(out)).toEqual(new Set(next));
  });
});
