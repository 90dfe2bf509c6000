import { describe, expect, it } from 'vitest';
import { commentLengthMax, commentWord } from './escape.ts';
import { tokenize } from './rules.ts';

describe('commentWord: user-derived text as one iptables-restore word', () => {
  it('leaves Kubernetes names and our wording as they are (kube-proxy’s spelling)', () => {
    expect(commentWord('ns1/svc1:p80')).toBe('ns1/svc1:p80');
    expect(commentWord('ns1/svc1:p80 has no endpoints')).toBe('"ns1/svc1:p80 has no endpoints"');
    expect(commentWord('ns1/svc1:p80 -> [fd00:180::1]:80')).toBe('"ns1/svc1:p80 -> [fd00:180::1]:80"');
  });

  it.each([
    ['a quote and a newline with a rule', 'x"\n-A INPUT -j DROP\n#/web', '"x__-A INPUT -j DROP__/web"'],
    ['a backslash before a quote', 'a\\" -j DROP', '"a__ -j DROP"'],
    ['a tab, a carriage return and a NUL', 'a\tb\rc\u0000d', 'a_b_c_d'],
    ['unicode', 'ns/ünï:çødé', 'ns/_n_:__d_'],
    ['an emoji (one character, two UTF-16 units)', 'ns/😀', 'ns/_'],
    ['an empty text', '', '_'],
    ['only spaces', '   ', '_'],
  ])('%s becomes harmless', (_name, text, word) => {
    expect(commentWord(text)).toBe(word);
    // One word for iptables-restore's tokenizer, whatever the text.
    expect(tokenize(`--comment ${commentWord(text)} -j ACCEPT`)).toHaveLength(4);
  });

  it('is cut to the kernel’s 255 characters', () => {
    expect(commentWord(`${'a'.repeat(300)} b`)).toBe('a'.repeat(commentLengthMax));
    expect(commentWord('x y'.repeat(200)).length).toBe(commentLengthMax + 2);
  });
});
