import { describe, expect, it } from 'vitest';
import { MetricsPage } from './metrics-text.ts';

describe('MetricsPage', () => {
  it('reads samples with labels (escapes included), sums and maxima over label sets', () => {
    const page = new MetricsPage(
      [
        '# HELP x_total A counter',
        '# TYPE x_total counter',
        'x_total{ip_family="IPv4"} 2',
        'x_total{ip_family="IPv6"} 3',
        'y{path="a \\"b\\"\\nc"} 1.5e3',
        'z 7 1767225600000',
        'h_bucket{le="+Inf"} 4',
        'lag Nan',
        '',
      ].join('\n'),
    );
    expect(page.value('x_total')).toBe(5);
    expect(page.max('x_total')).toBe(3);
    expect(page.value('x_total', { ip_family: 'IPv4' })).toBe(2);
    expect(page.find('y')[0]).toEqual({ name: 'y', labels: { path: 'a "b"\nc' }, value: 1500 });
    expect(page.value('z')).toBe(7);
    expect(page.value('h_bucket', { le: '+Inf' })).toBe(4);
    expect(page.value('lag')).toBeNaN();
    expect(page.value('missing')).toBeUndefined();
    expect(page.max('missing')).toBeUndefined();
  });

  it('rejects a line that is not a sample', () => {
    for (const line of ['not a sample', 'x{a="1"}', 'x one']) expect(() => new MetricsPage(line), line).toThrow(/not a metrics sample line/);
  });
});
