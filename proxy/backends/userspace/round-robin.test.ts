import { describe, expect, it } from 'vitest';
import { RoundRobin, targetKey, type Target } from './round-robin.ts';

const eps = (...hosts: number[]): Target[] => hosts.map((h) => ({ address: `10.0.0.${h}`, port: 8080 }));
const picks = (rr: RoundRobin, client: string, n: number) => Array.from({ length: n }, () => rr.pick(client)?.address);

describe('RoundRobin', () => {
  it('takes the endpoints in turn, the same share each', () => {
    const rr = new RoundRobin();
    rr.set(eps(1, 2, 3));
    const seen = picks(rr, '192.168.0.9', 9);
    expect(seen).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1', '10.0.0.2', '10.0.0.3']);
  });

  it('has nothing to give without endpoints', () => {
    const rr = new RoundRobin();
    rr.set([]);
    expect(rr.pick('192.168.0.9')).toBeUndefined();
  });

  it('a new set takes effect for the very next pick, and reports the endpoints that left', () => {
    const rr = new RoundRobin();
    rr.set(eps(1, 2));
    rr.pick('c');
    const removed = rr.set(eps(2, 3));
    expect([...removed]).toEqual([targetKey(eps(1)[0]!)]);
    expect(new Set(picks(rr, 'c', 4))).toEqual(new Set(['10.0.0.2', '10.0.0.3']));
  });

  it('skips endpoints a connect already failed on, and gives up once every one was tried', () => {
    const rr = new RoundRobin();
    rr.set(eps(1, 2));
    const tried = new Set([targetKey(eps(1)[0]!)]);
    expect(rr.pick('c', tried)?.address).toBe('10.0.0.2');
    tried.add(targetKey(eps(2)[0]!));
    expect(rr.pick('c', tried)).toBeUndefined();
  });

  describe('ClientIP affinity', () => {
    it('keeps a client on its endpoint while it comes back within the timeout, each pick renewing it', () => {
      let now = 0;
      const rr = new RoundRobin({ affinityTimeoutMs: 1000, now: () => now });
      rr.set(eps(1, 2, 3), 1000);
      const first = rr.pick('client-a')!.address;
      for (let i = 0; i < 10; i++) {
        now += 900;
        expect(rr.pick('client-a')!.address).toBe(first);
      }
      // Another client is balanced on its own.
      expect(rr.pick('client-b')!.address).not.toBe(first);
    });

    it('lets go once the timeout passed without a pick: the next one is balanced afresh', () => {
      let now = 0;
      const rr = new RoundRobin({ now: () => now });
      rr.set(eps(1, 2, 3), 1000);
      const first = rr.pick('client-a')!.address;
      now += 1001;
      expect(rr.pick('client-a')!.address).not.toBe(first);
      expect(rr.affinityEntries).toBe(1);
    });

    it('forgets expired clients (the table does not grow with clients long gone)', () => {
      let now = 0;
      const rr = new RoundRobin({ now: () => now });
      rr.set(eps(1, 2), 1000);
      for (let i = 0; i < 100; i++) rr.pick(`192.168.1.${i}`);
      expect(rr.affinityEntries).toBe(100);
      now += 5000;
      rr.pick('192.168.2.1');
      expect(rr.affinityEntries).toBe(1);
    });

    it('moves a client whose endpoint left the set, and one whose endpoint failed to connect', () => {
      const rr = new RoundRobin();
      rr.set(eps(1, 2), 10_000);
      const first = rr.pick('c')!;
      rr.set(eps(1, 2).filter((e) => e.address !== first.address), 10_000);
      const second = rr.pick('c')!;
      expect(second.address).not.toBe(first.address);
      rr.set(eps(1, 2, 3), 10_000);
      expect(rr.pick('c')!.address).toBe(second.address);
      expect(rr.pick('c', new Set([targetKey(second)]))!.address).not.toBe(second.address);
    });

    it('ends when the Service drops affinity', () => {
      const rr = new RoundRobin();
      rr.set(eps(1, 2), 10_000);
      rr.pick('c');
      rr.set(eps(1, 2), undefined);
      expect(rr.affinityEntries).toBe(0);
      expect(new Set(picks(rr, 'c', 4)).size).toBe(2);
    });
  });
});
