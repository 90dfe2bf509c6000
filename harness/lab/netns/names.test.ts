import { describe, expect, it } from 'vitest';
import { IFNAME_MAX, checkIfname, namespaceName, newPrefix, prefixOf, sharedBridgeName, vethName } from './names.ts';

describe('names', () => {
  it('makes run prefixes of the form kt<4 hex>- that prefixOf recognises', () => {
    const prefix = newPrefix(() => Uint8Array.from([0x3f, 0x09]));
    expect(prefix).toBe('kt3f09-');
    for (let i = 0; i < 200; i++) {
      const p = newPrefix();
      expect(p).toMatch(/^kt[0-9a-f]{4}-$/);
      expect(prefixOf(`${p}net`)).toBe(p);
    }
  });

  it('spreads prefixes: 200 draws give (nearly) 200 different ones', () => {
    const draws = new Set(Array.from({ length: 200 }, () => newPrefix()));
    // 65536 possible prefixes: more than 10 collisions in 200 draws would take odds of about 1e-14.
    expect(draws.size).toBeGreaterThan(190);
  });

  it('does not take other namespaces for ours', () => {
    for (const other of ['kt3f09', 'ktest-a', 'kt3F09-net', 'xkt3f09-net', 'cni-1234', 'kt3f0-net']) {
      expect(prefixOf(other), other).toBeUndefined();
    }
  });

  it('names namespaces by role and logical name, and refuses names that are not DNS-label-like', () => {
    expect(namespaceName('kt3f09-', 'net')).toBe('kt3f09-net');
    expect(namespaceName('kt3f09-', 'node', 'node-1')).toBe('kt3f09-n-node-1');
    expect(namespaceName('kt3f09-', 'pod', 'pod-a')).toBe('kt3f09-p-pod-a');
    expect(namespaceName('kt3f09-', 'client', 'client')).toBe('kt3f09-c-client');
    for (const bad of ['', 'Pod', 'pod_a', '-pod', 'pod-', 'a/b', 'x'.repeat(41)]) {
      expect(() => namespaceName('kt3f09-', 'pod', bad), bad).toThrow(/KPNG_ERR_NETNS_NAME/);
    }
    expect(() => namespaceName('ktest-', 'net')).toThrow(/not a lab prefix/);
  });

  it('keeps every veth name within 15 characters and unique per kind and index', () => {
    const names = new Set<string>();
    for (const kind of ['node', 'client', 'pod'] as const) {
      for (let index = 1; index <= 2000; index++) {
        const name = vethName(newPrefix(() => Uint8Array.from([0xff, 0xff])), kind, index);
        expect(name.length).toBeLessThanOrEqual(IFNAME_MAX);
        names.add(name);
      }
    }
    expect(names.size).toBe(6000);
    expect(vethName('kt3f09-', 'pod', 9_999_999)).toBe('kt3f09-p9999999');
    expect(() => vethName('kt3f09-', 'pod', 10_000_000)).toThrow(/KPNG_ERR_NETNS_IFNAME/);
    expect(() => vethName('kt3f09-', 'pod', 0)).toThrow(/positive/);
    expect(sharedBridgeName('kt3f09-')).toBe('kt3f09-br');
    expect(() => checkIfname('has space')).toThrow(/KPNG_ERR_NETNS_IFNAME/);
  });
});
