import { describe, expect, it } from 'vitest';
import { RestoreParseError, Ruleset, scanSave, tokenize } from './rules.ts';

describe('tokenize', () => {
  it('groups quoted words and unescapes quotes', () => {
    expect(tokenize('-A X -m comment --comment "a b" -j Y')).toEqual(['-A', 'X', '-m', 'comment', '--comment', 'a b', '-j', 'Y']);
    expect(tokenize('--comment "say \\"hi\\""  -j  Z')).toEqual(['--comment', 'say "hi"', '-j', 'Z']);
    expect(tokenize('--comment ""')).toEqual(['--comment', '']);
  });
});

describe('Ruleset (iptables-restore --noflush semantics)', () => {
  const base = ['*nat', ':KUBE-A - [0:0]', ':KUBE-B - [0:0]', '-A PREROUTING -j KUBE-A', '-A KUBE-A -j KUBE-B', '-A KUBE-B -j RETURN', 'COMMIT', ''].join('\n');

  it('declaring a chain flushes it; undeclared chains are left alone', () => {
    const rs = new Ruleset().apply(base).apply(['*nat', ':KUBE-A - [0:0]', '-A KUBE-A -j RETURN', 'COMMIT', ''].join('\n'));
    expect(rs.rules('nat', 'KUBE-A').map((r) => r.args.join(' '))).toEqual(['-j RETURN']);
    expect(rs.rules('nat', 'KUBE-B')).toHaveLength(1);
    expect(rs.rules('nat', 'PREROUTING')).toHaveLength(1);
  });

  it('-X deletes a flushed, unreferenced chain, and refuses a referenced one', () => {
    const rs = new Ruleset().apply(base);
    rs.apply(['*nat', ':KUBE-A - [0:0]', ':KUBE-B - [0:0]', '-X KUBE-B', 'COMMIT', ''].join('\n'));
    expect(rs.hasChain('nat', 'KUBE-B')).toBe(false);
    expect(() => rs.apply(['*nat', '-X KUBE-A', 'COMMIT', ''].join('\n'))).toThrow(/still referenced from PREROUTING/);
  });

  it('a failed table section changes nothing and names its line', () => {
    const rs = new Ruleset().apply(base);
    const before = rs.save();
    let err: unknown;
    try {
      rs.apply(['*nat', ':KUBE-A - [0:0]', '-A KUBE-A -j KUBE-MISSING', 'COMMIT', ''].join('\n'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RestoreParseError);
    expect((err as RestoreParseError).line).toBe(3);
    expect(rs.save()).toBe(before);
  });

  it('-I inserts at the top, -D removes the same rule', () => {
    const rs = new Ruleset().apply(base);
    rs.apply(['*nat', '-I PREROUTING -m comment --comment "x y" -j KUBE-B', 'COMMIT', ''].join('\n'));
    expect(rs.rules('nat', 'PREROUTING').map((r) => r.args.at(-1))).toEqual(['KUBE-B', 'KUBE-A']);
    rs.apply(['*nat', '-D PREROUTING -m comment --comment "x y" -j KUBE-B', 'COMMIT', ''].join('\n'));
    expect(rs.rules('nat', 'PREROUTING').map((r) => r.args.at(-1))).toEqual(['KUBE-A']);
  });

  it('save() reads back as the same ruleset', () => {
    const rs = new Ruleset().apply(base);
    expect(new Ruleset().apply(rs.save(), { noflush: false }).save()).toBe(rs.save());
  });
});

describe('scanSave', () => {
  it('lists every chain and keeps only the built-in chains’ rules', () => {
    const s = scanSave(['# Generated', '*filter', ':INPUT ACCEPT [1:2]', ':KUBE-X - [0:0]', '-A INPUT -m comment --comment "a b" -j KUBE-X', '-A KUBE-X -j ACCEPT', 'COMMIT', '*nat', ':KUBE-SVC-A - [0:0]', 'COMMIT', ''].join('\n'));
    expect([...s.chains.get('filter')!]).toEqual(['INPUT', 'KUBE-X']);
    expect([...s.chains.get('nat')!]).toEqual(['KUBE-SVC-A']);
    expect(s.builtinRules.get('filter')!.get('INPUT')).toEqual([['-m', 'comment', '--comment', 'a b', '-j', 'KUBE-X']]);
    expect(s.builtinRules.get('filter')!.has('KUBE-X')).toBe(false);
  });
});
