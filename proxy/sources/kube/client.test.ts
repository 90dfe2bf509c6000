import { describe, expect, it } from 'vitest';
import { parseList } from './client.ts';

describe('parseList', () => {
  it("returns a list body's items and its resource version", () => {
    expect(parseList('{"kind":"ServiceList","metadata":{"resourceVersion":"190"},"items":[{"metadata":{"name":"a"}}]}')).toEqual({ items: [{ metadata: { name: 'a' } }], resourceVersion: '190' });
  });

  it('an empty list (items null or left out) is no items', () => {
    expect(parseList('{"metadata":{"resourceVersion":"7"},"items":null}')).toEqual({ items: [], resourceVersion: '7' });
    expect(parseList('{"metadata":{}}')).toEqual({ items: [], resourceVersion: '' });
  });
});
