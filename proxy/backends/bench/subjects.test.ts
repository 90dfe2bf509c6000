import { describe, expect, it } from 'vitest';
import { appliesRules } from './subjects.ts';

describe('appliesRules', () => {
  it('counts transactions and restores as applying rules, tamper checks and reads not', () => {
    expect(appliesRules(['-f', '-'], 'add table ip kpng\n')).toBe(true);
    expect(appliesRules(['--noflush', '--wait=5'], '*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j RETURN\nCOMMIT\n')).toBe(true);
    expect(appliesRules(['-c', '-f', '-'], 'delete rule ip kpng services handle 7\n')).toBe(false);
    expect(appliesRules(['--noflush', '--wait=5'], '*nat\n-C PREROUTING -j KUBE-SERVICES\nCOMMIT\n')).toBe(false);
    expect(appliesRules(['-a', 'list', 'chain', 'ip', 'kpng', 'services'], undefined)).toBe(false);
  });
});
