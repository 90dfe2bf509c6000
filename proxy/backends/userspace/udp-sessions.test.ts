import { describe, expect, it } from 'vitest';
import { SessionTable, type Session } from './udp-sessions.ts';

class FakeSession implements Session {
  closed = 0;
  readonly target: string;
  constructor(target: string) {
    this.target = target;
  }
  close(): void {
    this.closed++;
  }
}

describe('SessionTable', () => {
  it('keeps a session while datagrams flow either way, and closes it after the idle timeout', () => {
    let now = 0;
    const table = new SessionTable<FakeSession>({ idleMs: 250, now: () => now });
    const s = new FakeSession('10.0.0.1#53');
    table.add('192.168.0.9#40000', s);
    for (let i = 0; i < 5; i++) {
      now += 200;
      if (i % 2 === 0) expect(table.get('192.168.0.9#40000')).toBe(s);
      else table.touch('192.168.0.9#40000'); // a reply
      expect(table.sweep()).toBe(0);
    }
    now += 251;
    expect(table.sweep()).toBe(1);
    expect(s.closed).toBe(1);
    expect(table.get('192.168.0.9#40000')).toBeUndefined();
  });

  it('tells clients apart by address and port', () => {
    const table = new SessionTable<FakeSession>({ idleMs: 250, now: () => 0 });
    const a = new FakeSession('e1');
    const b = new FakeSession('e2');
    table.add('192.168.0.9#40000', a);
    table.add('192.168.0.9#40001', b);
    expect(table.get('192.168.0.9#40000')).toBe(a);
    expect(table.get('192.168.0.9#40001')).toBe(b);
    expect(table.size).toBe(2);
  });

  it('forgets a session that closed itself without closing it again, but not a newer one of the same client', () => {
    const table = new SessionTable<FakeSession>({ idleMs: 250, now: () => 0 });
    const old = new FakeSession('e1');
    const fresh = new FakeSession('e2');
    table.add('c', old);
    table.add('c', fresh);
    table.delete('c', old);
    expect(table.get('c')).toBe(fresh);
    table.delete('c', fresh);
    expect(table.size).toBe(0);
    expect(old.closed + fresh.closed).toBe(0);
  });

  it('closeAll closes every session', () => {
    const table = new SessionTable<FakeSession>({ idleMs: 250 });
    const all = [new FakeSession('a'), new FakeSession('b')];
    all.forEach((s, i) => table.add(`c${i}`, s));
    table.closeAll();
    expect(all.map((s) => s.closed)).toEqual([1, 1]);
    expect(table.size).toBe(0);
  });
});
