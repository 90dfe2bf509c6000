import { describe, expect, it } from 'vitest';
import { ListSyntaxError, formatPyList, parsePyList } from './py-list.ts';

describe('parsePyList', () => {
  it("reads KPNG's list form", () => {
    expect(parsePyList("['local', '--api=unix:///k8s/proxy.sock']")).toEqual(['local', '--api=unix:///k8s/proxy.sock']);
  });

  it('reads empty lists, double quotes, escapes and a trailing comma', () => {
    expect(parsePyList('[]')).toEqual([]);
    expect(parsePyList(' [ ] ')).toEqual([]);
    expect(parsePyList(`["it's", 'a\\'b', 'c\\\\d', 'e\\nf',]`)).toEqual(["it's", "a'b", 'c\\d', 'e\nf']);
    expect(parsePyList("['a # not a comment']")).toEqual(['a # not a comment']);
  });

  it.each([
    ["'a', 'b'", 'expected "[" at column 1'],
    ["['a', 'b'", 'not closed with "]"'],
    ['[a, b]', 'expected a quoted string at column 2'],
    ["['a' 'b']", 'expected "," or "]" at column 6'],
    ["['a'] x", 'unexpected text after "]" at column 7'],
    ["['a]", "is not closed with '"],
    ["['\\q']", 'unknown escape "\\q"'],
  ])('rejects %s with a message naming where', (text, message) => {
    expect(() => parsePyList(text)).toThrow(ListSyntaxError);
    expect(() => parsePyList(text)).toThrow(message);
  });

  it('formats what it parses back unchanged', () => {
    const items = ['kube', '--kubeconfig=/var/lib/kpng/kubeconfig.conf', "it's", 'back\\slash', '$(NODE_NAME)', 'tab\there'];
    expect(formatPyList(items)).toBe(
      "['kube', '--kubeconfig=/var/lib/kpng/kubeconfig.conf', 'it\\'s', 'back\\\\slash', '$(NODE_NAME)', 'tab\\there']",
    );
    expect(parsePyList(formatPyList(items))).toEqual(items);
    expect(formatPyList([])).toBe('[]');
  });
});
