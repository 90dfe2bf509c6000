import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { base32, hashName } from './chain-hash.ts';
import { RuleApplyError } from './apply-error.ts';

describe('base32', () => {
  // RFC 4648 section 10 test vectors.
  it.each([
    ['', ''],
    ['f', 'MY======'],
    ['fo', 'MZXQ===='],
    ['foo', 'MZXW6==='],
    ['foob', 'MZXW6YQ='],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI======'],
  ])('%j → %s', (input, out) => {
    expect(base32(new TextEncoder().encode(input))).toBe(out);
  });

  it('hashName is the upper-case prefix of base32(sha256)', () => {
    // sha256("") = e3b0c442..., whose base32 starts 4OYMIQUY7QOBJGX3
    expect(hashName('', 16)).toBe('4OYMIQUY7QOBJGX3');
    expect(hashName('x', 8)).toMatch(/^[A-Z2-7]{8}$/);
  });

  it('hashName of any length is the same prefix of the encoding of the whole digest', () => {
    for (const text of ['', 'x', 'ns/svc:http', 'ns/svc:httptcp10.0.0.1:8080', 'é/ünïcode']) {
      const whole = base32(createHash('sha256').update(text).digest());
      for (let length = 1; length <= whole.length; length++) expect(hashName(text, length)).toBe(whole.slice(0, length));
    }
  });
});

describe('RuleApplyError', () => {
  it('names the blamed line and shows it in context', () => {
    const input = ['*nat', ':A - [0:0]', '-A A -j BOGUS', 'COMMIT', ''].join('\n');
    const e = new RuleApplyError({ code: 'KPNG_ERR_NFT_TRANSACTION', command: ['tool', '--flag'], input, exitCode: 2, stderr: 'tool: bad target\nmore\n', line: 3, what: 'IPv4' });
    expect(e.code).toBe('KPNG_ERR_NFT_TRANSACTION');
    expect(e.lineText).toBe('-A A -j BOGUS');
    expect(e.message).toBe('KPNG_ERR_NFT_TRANSACTION: tool rejected the IPv4 rules at input line 3: -A A -j BOGUS (tool: bad target)');
    expect(e.excerpt(1).split('\n')).toEqual(['      2 :A - [0:0]', '>     3 -A A -j BOGUS', '      4 COMMIT']);
    expect(e.input).toBe(input);
  });
});
