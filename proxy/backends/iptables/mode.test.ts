import { describe, expect, it } from 'vitest';
import { binaries, decideMode, detectMode } from './mode.ts';
import type { Runner } from './exec.ts';

const empty = { nftMangle: '', legacyMangle: '', nftSave: '', legacySave: '' };
const rules = (n: number) => Array.from({ length: n }, (_, i) => `-A INPUT -s 10.0.0.${i} -j ACCEPT`).join('\n');

describe('iptables flavour detection (iptables-wrappers)', () => {
  it.each([
    ['nothing anywhere: nft', empty, 'nft'],
    ["kubelet's hint in nft", { ...empty, nftMangle: ':KUBE-IPTABLES-HINT - [0:0]', legacySave: rules(50) }, 'nft'],
    ["kubelet's canary in legacy", { ...empty, legacyMangle: '*mangle\n:KUBE-KUBELET-CANARY - [0:0]\nCOMMIT', nftSave: rules(50) }, 'legacy'],
    ['more legacy rules', { ...empty, legacySave: rules(3), nftSave: rules(2) }, 'legacy'],
    ['as many: nft', { ...empty, legacySave: rules(3), nftSave: rules(3) }, 'nft'],
    ['our own canary is no hint', { ...empty, legacyMangle: ':KUBE-PROXY-CANARY - [0:0]', legacySave: rules(1) }, 'legacy'],
  ] as const)('%s', (_name, evidence, mode) => {
    expect(decideMode(evidence).mode).toBe(mode);
  });

  it('gathers evidence from both flavours and both families; a missing tool counts as empty', async () => {
    const calls: string[] = [];
    const run: Runner = async (file, args) => {
      calls.push([file, ...args].join(' '));
      if (file.includes('legacy')) return { exitCode: undefined, stdout: '', stderr: 'not installed' };
      if (file === 'ip6tables-nft-save' && args.length === 0) return { exitCode: 0, stdout: rules(2), stderr: '' };
      return { exitCode: 0, stdout: '', stderr: '' };
    };
    await expect(detectMode(run)).resolves.toMatchObject({ mode: 'nft' });
    expect(calls).toEqual(expect.arrayContaining(['iptables-nft-save -t mangle', 'ip6tables-legacy-save -t mangle', 'iptables-legacy-save', 'ip6tables-nft-save']));
  });

  it('names the binaries of each flavour and family', () => {
    expect(binaries('nft', 'IPv6')).toEqual({ iptables: 'ip6tables-nft', save: 'ip6tables-nft-save', restore: 'ip6tables-nft-restore' });
    expect(binaries('legacy', 'IPv4').restore).toBe('iptables-legacy-restore');
  });
});
