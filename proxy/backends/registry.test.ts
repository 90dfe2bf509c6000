// The registry is the one list of backends: each entry is the descriptor its folder's
// index.ts exports, under the folder's name.
import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { allStages } from '../cli/registry.ts';
import { registeredBackends } from './registry.ts';

const here = new URL('./', import.meta.url);

describe('registeredBackends', () => {
  it.each(registeredBackends.map((d) => ({ name: d.name, d })))("$name: the folder's index.ts exports it, and its stage is to-<name>", async ({ name, d }) => {
    expect(name).toMatch(/^[a-z][a-z0-9]*$/);
    const index = (await import(new URL(`./${name}/index.ts`, here).href)) as Record<string, unknown>;
    expect(Object.values(index)).toContain(d);
    expect(allStages().filter((s) => s.role === 'local-sink' && s.name === `to-${name}`)).toHaveLength(1);
  });

  it('names, and subject ids across backends, are unique; every subject has a title', () => {
    const names = registeredBackends.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    const ids = registeredBackends.flatMap((d) => d.subjects.map((s) => s.id));
    expect(new Set(ids).size).toBe(ids.length);
    for (const d of registeredBackends) for (const s of d.subjects) expect(s.title).not.toBe('');
  });

  it("a cgroup-scoped backend takes the flags its scope names (a lab passes each node's cgroup and state folder through them)", () => {
    for (const d of registeredBackends) {
      if (d.scope.kind !== 'cgroup') continue;
      const flags = d.flags.map((f) => f.name);
      expect(flags, d.name).toContain(d.scope.cgroupFlag);
      expect(flags, d.name).toContain(d.scope.stateFlag.name);
      expect(d.scope.stateFlag.under, d.name).toMatch(/^\/./);
    }
  });

  it('a folder with an index.ts exporting a descriptor is registered (nothing forgotten)', async () => {
    const folders = (await readdir(here, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
    for (const folder of folders) {
      const index = await import(new URL(`./${folder}/index.ts`, here).href).catch(() => undefined);
      const descriptors = Object.values((index ?? {}) as Record<string, unknown>).filter(
        (v): v is { name: string } => typeof v === 'object' && v !== null && 'proxyMode' in v && 'subjects' in v && 'create' in v,
      );
      for (const d of descriptors) expect(registeredBackends.map((r) => r.name), `proxy/backends/${folder} exports a descriptor`).toContain(d.name);
    }
  });
});
