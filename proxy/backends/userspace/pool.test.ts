import { describe, expect, it } from 'vitest';
import { Pool } from './pool.ts';
import { targetKey } from './round-robin.ts';

const e1 = { address: '10.0.0.1', port: 80 };
const e2 = { address: '10.0.0.2', port: 80 };
const e3 = { address: 'fd00::3', port: 80 };

describe('Pool: an endpoint set changing under open connections', () => {
  it('closes what goes to an endpoint that left, keeps the rest, and sends the next connection to the new set', () => {
    const pool = new Pool('ns/web:http|IPv4|internal');
    pool.update([e1, e2], undefined);
    const closed: string[] = [];
    const open = (key: string, name: string) => {
      const forget = pool.open.add(key, () => {
        closed.push(name);
        forget();
      });
    };
    open(targetKey(e1), 'a');
    open(targetKey(e1), 'b');
    open(targetKey(e2), 'c');
    expect(pool.update([e2, e3], undefined)).toBe(2);
    expect(closed.sort()).toEqual(['a', 'b']);
    expect(pool.open.size).toBe(1);
    const next = new Set([pool.rr.pick('x')?.address, pool.rr.pick('x')?.address]);
    expect(next).toEqual(new Set(['10.0.0.2', 'fd00::3']));
  });

  it('an unchanged set closes nothing', () => {
    const pool = new Pool('p');
    pool.update([e1, e2], undefined);
    let closed = 0;
    pool.open.add(targetKey(e1), () => closed++);
    expect(pool.update([e2, e1, e1], undefined)).toBe(0);
    expect(closed).toBe(0);
  });

  it('idle() resolves once every connection is gone (a drain waits on it)', async () => {
    const pool = new Pool('p');
    pool.update([e1], undefined);
    const forget = pool.open.add(targetKey(e1), () => undefined);
    let idle = false;
    const waiting = pool.open.idle().then(() => (idle = true));
    await Promise.resolve();
    expect(idle).toBe(false);
    forget();
    forget(); // twice is once
    await waiting;
    expect(pool.open.size).toBe(0);
  });
});
