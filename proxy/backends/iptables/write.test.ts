import { describe, expect, it } from 'vitest';
import { nodeView } from '../../model/index.ts';
import { planIptables, restoreInputChunks, writeRestoreInput } from './render.ts';
import { clusterCIDRs, fixtureState, scaleObjects } from './testing.ts';

describe('restoreInputChunks', () => {
  it('makes the restore input in chunks of whole lines that join into writeRestoreInput’s text, counting lines and bytes as they are taken', () => {
    const plan = planIptables(nodeView(fixtureState(scaleObjects(200, 10))), { family: 'IPv4', clusterCIDRs });
    const size = { lines: 0, bytes: 0 };
    const chunks = [...restoreInputChunks(plan, size)];
    const { text, lines } = writeRestoreInput(plan);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(c.endsWith('\n')).toBe(true);
    expect(chunks.join('')).toBe(text);
    expect(size).toEqual({ lines, bytes: Buffer.byteLength(text) });
    expect(lines).toBe(text.split('\n').length - 1);
  });

  it('makes nothing for a plan that writes nothing', () => {
    const view = nodeView(fixtureState(scaleObjects(3, 2)));
    const full = planIptables(view, { family: 'IPv4', clusterCIDRs });
    const unchanged = planIptables(view, { family: 'IPv4', clusterCIDRs, partial: { changed: new Set(), previous: full.record } });
    expect([...restoreInputChunks(unchanged)]).toEqual([]);
    expect(writeRestoreInput(unchanged)).toEqual({ text: '', lines: 0 });
  });
});
