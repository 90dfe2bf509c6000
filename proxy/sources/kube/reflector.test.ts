import { describe, expect, it } from 'vitest';
import { withListKind } from './reflector.ts';

describe('withListKind', () => {
  it('gives a list item its kind and apiVersion on the object itself, not on a copy', () => {
    const item = { metadata: { name: 'a' } };
    expect(withListKind(item, 'EndpointSlice', 'discovery.k8s.io/v1')).toBe(item);
    expect(item).toEqual({ metadata: { name: 'a' }, kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1' });
  });

  it('leaves an object that has a kind as it is, and keeps an apiVersion the item carries', () => {
    const kinded = { kind: 'Service', apiVersion: 'v1', metadata: { name: 'a' } };
    expect(withListKind(kinded, 'Service', 'v2')).toEqual({ kind: 'Service', apiVersion: 'v1', metadata: { name: 'a' } });
    expect(withListKind({ apiVersion: 'v1beta1' }, 'Service', 'v1')).toEqual({ kind: 'Service', apiVersion: 'v1beta1' });
  });

  it('passes what is not an object through (the model refuses it with its own error)', () => {
    expect(withListKind(null, 'Node', 'v1')).toBeNull();
    expect(withListKind('x', 'Node', 'v1')).toBe('x');
  });
});
