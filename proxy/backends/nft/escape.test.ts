import { describe, expect, it } from 'vitest';
import { commentLengthMax, nameText, nftString } from './escape.ts';
import { hashAndTruncate, servicePortChainNameBase } from './names.ts';

describe('nftString: user-derived text as an nft quoted string', () => {
  it('leaves Kubernetes names and our wording as they are', () => {
    expect(nftString('ns1/svc1:p80')).toBe('"ns1/svc1:p80"');
    expect(nftString('helper for @no-endpoint-services / @no-endpoint-nodeports')).toBe('"helper for @no-endpoint-services / @no-endpoint-nodeports"');
  });

  it.each([
    ['a quote ending the string early', 'ns" ; flush ruleset ; "', '"ns_ _ flush ruleset _ _"'],
    ['a newline with a command', 'a\nflush ruleset', '"a_flush ruleset"'],
    ['braces, # and a backslash', 'a{b}#c\\d;', '"a_b__c_d_"'],
    ['unicode', 'ünï', '"_n_"'],
  ])('%s becomes harmless', (_name, text, quoted) => {
    expect(nftString(text)).toBe(quoted);
    expect(nftString(text).slice(1, -1)).not.toMatch(/["\n\\]/);
  });

  it('is cut to the 128 characters nft stores', () => {
    expect(nftString('a'.repeat(500))).toBe(`"${'a'.repeat(commentLengthMax)}"`);
  });
});

describe('nameText: user-derived text inside an object name', () => {
  it('keeps kube-proxy’s chain names for Kubernetes names', () => {
    expect(servicePortChainNameBase('ns1', 'svc1', 'tcp', 'p80')).toBe('ULMVA6XW-ns1/svc1/tcp/p80');
  });

  it('replaces what nft would not take as a name; the hash of the raw text keeps names apart', () => {
    expect(nameText('ns x"/{a};b:c')).toBe('ns_x_/_a__b_c');
    const a = hashAndTruncate('ns"/svc');
    const b = hashAndTruncate('ns;/svc');
    expect(a.endsWith('-ns_/svc')).toBe(true);
    expect(b.endsWith('-ns_/svc')).toBe(true);
    expect(a).not.toBe(b);
  });
});
