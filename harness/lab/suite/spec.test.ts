import { describe, expect, it } from 'vitest';
import { unmetRequirement, type LabSpec } from './spec.ts';

const spec = (requires: LabSpec['requires']): LabSpec => ({ id: 'x', upstream: 'x', source: 'x', ...(requires && { requires }), run: async () => undefined });
const lab = { family: 'ipv4', nodes: [1, 2, 3], bridgeNetfilter: true };

describe('unmetRequirement', () => {
  it('lets a spec run when the lab has what it needs', () => {
    expect(unmetRequirement(spec(undefined), lab)).toBeUndefined();
    expect(unmetRequirement(spec(['dual', { nodes: 3 }, 'bridge-netfilter']), { ...lab, family: 'dual' })).toBeUndefined();
  });

  it('says why it is skipped otherwise', () => {
    expect(unmetRequirement(spec(['dual']), lab)).toBe('needs both IP families (the lab runs ipv4)');
    expect(unmetRequirement(spec([{ nodes: 4 }]), lab)).toBe('needs 4 nodes (the lab has 3)');
    expect(unmetRequirement(spec(['bridge-netfilter']), { ...lab, bridgeNetfilter: false })).toMatch(/needs br_netfilter/);
  });
});
