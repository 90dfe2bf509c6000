import { describe, expect, it } from 'vitest';
import { memoryLogger } from '../../runtime/log.ts';
import type { Runner } from '../common/index.ts';
import { registeredBackends } from '../registry.ts';
import { appliesRules, subjects } from './subjects.ts';

describe('appliesRules', () => {
  it('counts transactions and restores as applying rules, tamper checks and reads not', () => {
    expect(appliesRules(['-f', '-'], 'add table ip kpng\n')).toBe(true);
    expect(appliesRules(['--noflush', '--wait=5'], '*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j RETURN\nCOMMIT\n')).toBe(true);
    expect(appliesRules(['-c', '-f', '-'], 'delete rule ip kpng services handle 7\n')).toBe(false);
    expect(appliesRules(['--noflush', '--wait=5'], '*nat\n-C PREROUTING -j KUBE-SERVICES\nCOMMIT\n')).toBe(false);
    expect(appliesRules(['-a', 'list', 'chain', 'ip', 'kpng', 'services'], undefined)).toBe(false);
  });
});

describe('subjects', () => {
  it("are every registered backend's subjects that run here, keyed by subject id, titled as the descriptor says", () => {
    const wanted = registeredBackends.filter((d) => d.proof === 'runs').flatMap((d) => d.subjects);
    expect(Object.keys(subjects)).toEqual(wanted.map((s) => s.id));
    for (const s of wanted) expect(subjects[s.id]?.name).toBe(s.title);
  });

  it("build their backend from the descriptor and the subject's flags, its tools run through the bench's runner", async () => {
    for (const [id, subject] of Object.entries(subjects)) {
      const calls: string[] = [];
      const run: Runner = (file, args) => {
        calls.push([file, ...args].join(' '));
        return Promise.resolve({ exitCode: 1, stdout: '', stderr: 'refused by the test runner' });
      };
      const backend = subject.create(run, memoryLogger());
      await backend.setup().catch(() => undefined);
      expect(calls.length, `${id} ran its tools through the given runner`).toBeGreaterThan(0);
      if (id === 'iptables-legacy') expect(calls.every((c) => !c.startsWith('iptables-nft'))).toBe(true);
    }
  });
});
