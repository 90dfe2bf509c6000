import { describe, expect, it } from 'vitest';
import { parseXml } from './xml.ts';

describe('parseXml', () => {
  it('reads elements, attributes, text, CDATA and character references, skipping the prolog and comments', () => {
    const root = parseXml(
      `\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<!-- written by a reporter -->\n<a x="1" y='two &amp; &#34;three&#34;'>` +
        `hello &lt;world&gt;&#xA;<b/><c k="v">in c<![CDATA[ <raw> & ]]></c><!-- inner --> bye</a>\n`,
    );
    expect(root).toEqual({
      name: 'a',
      attributes: { x: '1', y: 'two & "three"' },
      text: 'hello <world>\n bye',
      children: [
        { name: 'b', attributes: {}, children: [], text: '' },
        { name: 'c', attributes: { k: 'v' }, children: [], text: 'in c <raw> & ' },
      ],
    });
  });

  it.each([
    ['<a><b></a>', /XML:1: <\/a> closes <b>/],
    ['<a>\n\n<b x=1/></a>', /XML:3: the value of x is not quoted/],
    ['<a>AT&T</a>', /a bare "&"/],
    ['<a>&nbsp;</a>', /unknown entity &nbsp;/],
    ['<a>', /<a> is not closed/],
    ['<a/><b/>', /text after the root element/],
    ['', /no root element/],
  ])('rejects %j naming the line', (text, message) => {
    expect(() => parseXml(text)).toThrow(message);
  });

  it('errors carry KPNG_ERR_XML and the file name', () => {
    expect(() => parseXml('<a>', 'reports/junit_01.xml')).toThrow(/^KPNG_ERR_XML: reports\/junit_01.xml:1: /);
  });
});
