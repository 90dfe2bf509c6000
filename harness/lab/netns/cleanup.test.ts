import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Marker, claimPrefix, creatorAlive, parseNetnsList, planSweep, processStartTime, readMarkers, releasePrefix } from './cleanup.ts';

const marker = (prefix: string, pid: number): Marker => ({ prefix, pid, startTime: undefined, createdAt: '', command: '' });

describe('cleanup', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpng-markers-'));
    dirs.push(dir);
    return dir;
  };

  it('parses `ip netns list`', () => {
    expect(parseNetnsList('kt3f09-net (id: 3)\nkt3f09-n-node-1 (id: 4)\nother\n\n')).toEqual(['kt3f09-net', 'kt3f09-n-node-1', 'other']);
  });

  it('sweeps the namespaces of dead or unmarked runs, keeps live runs and never considers other names', () => {
    const namespaces = ['kt0001-net', 'kt0001-p-a', 'kt0002-net', 'kt0003-net', 'cni-abc', 'ktest-a', 'kt0004x'];
    const markers = new Map<string, Marker | undefined>([
      ['kt0001-', marker('kt0001-', 100)],
      ['kt0002-', marker('kt0002-', 200)],
      ['kt0005-', marker('kt0005-', 500)],
    ]);
    const plan = planSweep(namespaces, markers, (m) => m.pid === 200);
    expect(plan.live).toEqual(['kt0002-']);
    expect(plan.stale).toEqual([
      { prefix: 'kt0001-', namespaces: ['kt0001-net', 'kt0001-p-a'] },
      { prefix: 'kt0003-', namespaces: ['kt0003-net'] },
      // A marker without namespaces is removed too.
      { prefix: 'kt0005-', namespaces: [] },
    ]);
  });

  it('claims a prefix once, and lets it go', () => {
    const dir = tempDir();
    expect(claimPrefix('kt0a0b-', dir)).toBe(true);
    expect(claimPrefix('kt0a0b-', dir)).toBe(false);
    const read = readMarkers(dir).get('kt0a0b-');
    expect(read?.pid).toBe(process.pid);
    expect(read && creatorAlive(read)).toBe(true);
    releasePrefix('kt0a0b-', dir);
    expect(readMarkers(dir).size).toBe(0);
  });

  it('reads unreadable markers as missing and ignores files that are not markers', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'kt0c0d.json'), 'not json');
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    expect([...readMarkers(dir)]).toEqual([['kt0c0d-', undefined]]);
  });

  it('tells a live creator from a dead one and from a later process that reuses its pid', () => {
    const self = { ...marker('kt0000-', process.pid), startTime: processStartTime(process.pid) };
    expect(self.startTime).toMatch(/^\d+$/);
    expect(creatorAlive(self)).toBe(true);
    expect(creatorAlive({ ...self, startTime: '1' })).toBe(false);
    // Pids above the kernel's pid_max (4194304) never run.
    expect(creatorAlive(marker('kt0000-', 4_194_305))).toBe(false);
  });
});
