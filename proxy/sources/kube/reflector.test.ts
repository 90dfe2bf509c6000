import { describe, expect, it } from 'vitest';
import { adoptReceived } from './reflector.ts';

describe('adoptReceived', () => {
  it('gives a list item its kind and apiVersion on the object itself, not on a copy', () => {
    const item = { metadata: { name: 'a' } };
    expect(adoptReceived(item, 'EndpointSlice', 'discovery.k8s.io/v1')).toBe(item);
    expect(item).toEqual({ metadata: { name: 'a' }, kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1' });
  });

  it('leaves an object that has a kind as it is, and keeps an apiVersion the item carries', () => {
    const kinded = { kind: 'Service', apiVersion: 'v1', metadata: { name: 'a' } };
    expect(adoptReceived(kinded, 'Service', 'v2')).toEqual({ kind: 'Service', apiVersion: 'v1', metadata: { name: 'a' } });
    expect(adoptReceived({ apiVersion: 'v1beta1' }, 'Service', 'v1')).toEqual({ kind: 'Service', apiVersion: 'v1beta1' });
  });

  it("drops the API server's managedFields, of a list item and of a watched object alike", () => {
    const managedFields = [{ manager: 'kubectl', operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': {} } }];
    const listed = adoptReceived({ metadata: { name: 'a', managedFields } }, 'Service', 'v1') as { metadata: Record<string, unknown> };
    const watched = adoptReceived({ kind: 'Service', apiVersion: 'v1', metadata: { name: 'a', managedFields: [{ ...managedFields[0], manager: 'other' }] } }, 'Service', 'v1') as { metadata: Record<string, unknown> };
    for (const o of [listed, watched]) expect(o.metadata).toEqual({ name: 'a', managedFields: undefined });
    // Two receipts of one object that differ only in their field owners are equal once kept.
    expect(listed.metadata).toStrictEqual(watched.metadata);
  });

  it('passes what is not an object through (the model refuses it with its own error)', () => {
    expect(adoptReceived(null, 'Node', 'v1')).toBeNull();
    expect(adoptReceived('x', 'Node', 'v1')).toBe('x');
    expect(adoptReceived({ metadata: 'x' }, 'Node', 'v1')).toEqual({ kind: 'Node', apiVersion: 'v1', metadata: 'x' });
  });
});
