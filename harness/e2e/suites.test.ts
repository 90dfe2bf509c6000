import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ipFamilies } from '../config/index.ts';
import { appliesTo, parseSuites, quoteMeta } from './suites.ts';

/** Entries without backends apply to every backend, also one registered later. */
const backends = undefined;

describe('parseSuites', () => {
  it('reads focus and skip entries with their line, pattern, reason, link and scope', () => {
    const suites = parseSuites(
      [
        'focus:',
        "  - text: '[sig-network]'",
        '    reason: the network specs',
        'skip:',
        "  - regex: '\\[Feature:Networking-(?:IPv4|IPv6)\\]'",
        '    reason: internet',
        '    link: https://example.com/a',
        "  - text: 'should preserve source pod IP (thru cluster IP)'",
        '    backends: [userspace]',
        '    families: [ipv4, dual]',
        '    reason: relayed',
        '    link: https://example.com/b',
      ].join('\n'),
      'skips.yaml',
    );
    expect(suites.focus).toEqual([
      { kind: 'focus', where: 'skips.yaml:2', written: { text: '[sig-network]' }, pattern: '\\[sig-network\\]', reason: 'the network specs', backends, families: ipFamilies },
    ]);
    expect(suites.skip.map((e) => [e.where, e.pattern, e.backends, e.families, e.link])).toEqual([
      ['skips.yaml:5', '\\[Feature:Networking-(?:IPv4|IPv6)\\]', backends, ipFamilies, 'https://example.com/a'],
      ['skips.yaml:8', 'should preserve source pod IP \\(thru cluster IP\\)', ['userspace'], ['ipv4', 'dual'], 'https://example.com/b'],
    ]);
  });

  it('names the line and field of every bad entry, and what is accepted', () => {
    const text = [
      'focus:',
      "  - text: '[sig-network]'",
      '    reason: ok',
      'skip:',
      "  - text: '[Serial]'",
      "    regex: 'Serial'",
      '    reason: both',
      '    link: https://example.com',
      "  - text: '[Slow]'",
      '    reason: no link',
      "  - text: '[Flaky]'",
      '    reason: bad scope',
      '    link: http://example.com',
      '    backends: [nftables]',
      "  - text: '[X]'",
      "    reason: '  '",
      '    link: https://example.com',
      '    famlies: [ipv4]',
    ].join('\n');
    let message = '';
    try {
      parseSuites(text, 'e2e/skips.yaml');
    } catch (error) {
      message = (error as Error).message;
    }
    const lines = message.split('\n');
    expect(lines[0]).toBe('KPNG_ERR_E2E_SUITES: e2e/skips.yaml has 6 bad entries:');
    expect(lines.slice(1, 7)).toEqual([
      '  e2e/skips.yaml:5: skip entry #1: needs exactly one of text (the spec text) or regex',
      '  e2e/skips.yaml:9: skip entry #2: link is missing: a skip links to the spec, an issue or the doc of the tag it names',
      '  e2e/skips.yaml:11: skip entry #3: link is not an https:// URL: a skip links to the spec, an issue or the doc of the tag it names',
      '  e2e/skips.yaml:11: skip entry #3: backends.0 "nftables" is what nft answers at /proxyMode; name the backend: nft',
      '  e2e/skips.yaml:15: skip entry #4: reason is empty: say why',
      expect.stringMatching(/^ {2}e2e\/skips.yaml:15: skip entry #4: Unrecognized key: "famlies"$/),
    ]);
    expect(lines.at(-1)).toMatch(/^ {2}accepted: focus: and skip: lists of \{ text: <spec text> \| regex: <RE2>, reason: <why>, link: https:\/\/\.\.\./);
  });

  it('rejects a file without focus, and YAML that does not parse, with the line', () => {
    expect(() => parseSuites('skip: []\n')).toThrow(/KPNG_ERR_E2E_SUITES: e2e\/skips.yaml does not have the expected shape:\n {2}e2e\/skips.yaml: focus: /);
    expect(() => parseSuites('focus: []\n')).toThrow(/focus: is empty: nothing would run/);
    expect(() => parseSuites('focus:\n  - text: [a\n')).toThrow(/KPNG_ERR_E2E_SUITES: e2e\/skips.yaml is not valid YAML:\n {2}e2e\/skips.yaml:\d+: /);
  });

  it('lab: false keeps an entry to the upstream runs on kind; the lab applies the others; lab: true is refused', () => {
    const suites = parseSuites(
      ['focus:', "  - text: '[sig-network]'", '    reason: net', 'skip:', "  - text: '[A]'", '    reason: kind lacks it', '    link: https://example.com/a', '    lab: false', "  - text: '[B]'", '    reason: b', '    link: https://example.com/b'].join('\n'),
    );
    const [kindOnly, both] = suites.skip;
    expect([kindOnly?.lab, both?.lab]).toEqual([false, undefined]);
    expect([appliesTo(kindOnly!, 'nft', 'ipv4'), appliesTo(kindOnly!, 'nft', 'ipv4', 'e2e'), appliesTo(kindOnly!, 'nft', 'ipv4', 'lab')]).toEqual([true, true, false]);
    expect([appliesTo(both!, 'nft', 'ipv4', 'e2e'), appliesTo(both!, 'nft', 'ipv4', 'lab')]).toEqual([true, true]);
    expect(() => parseSuites(['focus:', "  - text: '[sig-network]'", '    reason: net', 'skip:', "  - text: '[A]'", '    reason: a', '    link: https://example.com/a', '    lab: true'].join('\n'))).toThrow(
      /e2e\/skips.yaml:5: skip entry #1: lab can only be false \(the lab leaves the entry out\); leave it out to have the lab apply it too/,
    );
  });

  it("reads the project's e2e/skips.yaml: every skip has a reason and a link", () => {
    const suites = parseSuites(readFileSync(new URL('../../e2e/skips.yaml', import.meta.url), 'utf8'));
    expect(suites.focus.length).toBeGreaterThan(0);
    expect(suites.skip.length).toBeGreaterThan(0);
    for (const entry of suites.skip) {
      expect(entry.reason.length, entry.where).toBeGreaterThan(10);
      expect(entry.link, entry.where).toMatch(/^https:\/\//);
    }
  });
});

describe('quoteMeta', () => {
  it("escapes what Go's regexp.QuoteMeta escapes, so the text matches only itself", () => {
    const text = 'a [b] (c) {d} e.f*g+h?i|j^k$l\\m';
    expect(quoteMeta(text)).toBe('a \\[b\\] \\(c\\) \\{d\\} e\\.f\\*g\\+h\\?i\\|j\\^k\\$l\\\\m');
    expect(new RegExp(quoteMeta(text)).test(`x ${text} y`)).toBe(true);
    expect(new RegExp(quoteMeta('[Serial]')).test('[sig-network] foo Serial')).toBe(false);
  });
});
