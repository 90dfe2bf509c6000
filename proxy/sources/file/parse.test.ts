import { describe, expect, it } from 'vitest';
import { parseSnapshot, SnapshotParseError } from './parse.ts';

const names = (objs: unknown[]) => objs.map((o) => `${(o as { kind: string }).kind}/${(o as { metadata: { name: string } }).metadata.name}`);

describe('snapshot formats', () => {
  it('reads a multi-document YAML stream', () => {
    expect(names(parseSnapshot('kind: Service\nmetadata: {name: a}\n---\nkind: Node\nmetadata: {name: n}\n'))).toEqual(['Service/a', 'Node/n']);
  });
  it('reads a kind: List as kubectl get -o yaml writes it', () => {
    const text = 'apiVersion: v1\nkind: List\nitems:\n- kind: Service\n  metadata: {name: a}\n- kind: EndpointSlice\n  metadata: {name: s}\n';
    expect(names(parseSnapshot(text))).toEqual(['Service/a', 'EndpointSlice/s']);
  });
  it('gives items of a typed list (ServiceList) their kind', () => {
    expect(names(parseSnapshot('{"kind":"ServiceList","items":[{"metadata":{"name":"a"}}]}'))).toEqual(['Service/a']);
  });
  it('reads JSON', () => {
    expect(names(parseSnapshot('{"kind":"Node","metadata":{"name":"n"}}'))).toEqual(['Node/n']);
  });
  it('treats an empty file as no objects', () => {
    expect(parseSnapshot('')).toEqual([]);
    expect(parseSnapshot('---\n')).toEqual([]);
  });
  it('reports the line and column of a syntax error', () => {
    try {
      parseSnapshot('kind: Service\nmetadata:\n\tname: a\n', 'x.yaml');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SnapshotParseError);
      const err = e as SnapshotParseError;
      expect([err.line, err.column]).toEqual([3, 1]);
      expect(err.message).toMatch(/^x\.yaml:3:1: cannot parse snapshot: Tabs are not allowed/);
    }
  });
});
