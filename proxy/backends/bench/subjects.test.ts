import { describe, expect, it } from 'vitest';
import { memoryLogger } from '../../runtime/log.ts';
import type { Runner } from '../common/index.ts';
import { registeredBackends } from '../registry.ts';
import { appliesRules, leftOutOfBench, subjects } from './subjects.ts';

describe('appliesRules', () => {
  it('counts transactions and restores as applying rules, tamper checks and reads not', () => {
    expect(appliesRules(['-f', '-'], { input: 'add table ip kpng\n' })).toBe(true);
    expect(appliesRules(['--noflush', '--wait=5'], { input: '*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j RETURN\nCOMMIT\n' })).toBe(true);
    expect(appliesRules(['--noflush', '--wait=5'], { inputChunks: ['*nat\n:KUBE-SERVICES - [0:0]\n', 'COMMIT\n'] })).toBe(true);
    expect(appliesRules(['-c', '-f', '-'], { input: 'delete rule ip kpng services handle 7\n' })).toBe(false);
    expect(appliesRules(['--noflush', '--wait=5'], { input: '*nat\n-C PREROUTING -j KUBE-SERVICES\nCOMMIT\n' })).toBe(false);
    expect(appliesRules(['-a', 'list', 'chain', 'ip', 'kpng', 'services'], undefined)).toBe(false);
  });
});

describe('subjects', () => {
  it("are every registered backend's subjects that run here, keyed by subject id, titled as the descriptor says, but those the scratch node cannot keep to itself", () => {
    const wanted = registeredBackends.filter((d) => d.proof === 'runs').flatMap((d) => d.subjects);
    expect([...Object.keys(subjects), ...Object.keys(leftOutOfBench)].sort()).toEqual(wanted.map((s) => s.id).sort());
    for (const s of wanted) if (!(s.id in leftOutOfBench)) expect(subjects[s.id]?.name).toBe(s.title);
  });

  it('refuse to make a cgroup-scoped backend without a bench node of its own (never its defaults: the cgroup2 root)', () => {
    const run: Runner = () => Promise.reject(new Error('no tool may run'));
    for (const [id, subject] of Object.entries(subjects)) {
      if (subject.scope.kind === 'cgroup') expect(() => subject.create(run, memoryLogger(), undefined), id).toThrow(/^KPNG_ERR_BENCH_BACKEND: .*runs only on a bench node with a cgroup of its own/);
    }
  });

  it('leave out only cgroup-scoped backends, saying why (run with their defaults, they would hook every process of the host)', () => {
    const scoped = new Set(registeredBackends.filter((d) => d.scope.kind === 'cgroup').flatMap((d) => d.subjects.map((s) => s.id)));
    for (const [id, why] of Object.entries(leftOutOfBench)) {
      expect(scoped.has(id), id).toBe(true);
      expect(why).toMatch(/hooks the sockets of a cgroup's processes.*every process of this host/);
    }
  });

  it("build their backend from the descriptor and the subject's flags, its tools run through the bench's runner", async () => {
    for (const [id, subject] of Object.entries(subjects)) {
      // A cgroup-scoped one needs the bench node's cgroup (benchNode): its benchmark proves it.
      if (subject.scope.kind !== 'network-namespace') continue;
      const calls: string[] = [];
      const run: Runner = (file, args) => {
        calls.push([file, ...args].join(' '));
        return Promise.resolve({ exitCode: 1, stdout: '', stderr: 'refused by the test runner' });
      };
      const backend = subject.create(run, memoryLogger(), undefined);
      await backend.setup().catch(() => undefined);
      expect(calls.length, `${id} ran its tools through the given runner`).toBeGreaterThan(0);
      if (id === 'iptables-legacy') expect(calls.every((c) => !c.startsWith('iptables-nft'))).toBe(true);
    }
  });
});
