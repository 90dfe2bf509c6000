// iptables comes in two kernel flavours, nft and legacy, and a node must use the one the
// rest of the system (kubelet, the CNI plugin) uses. Detection as the iptables-wrappers
// do it (kubernetes-sigs/iptables-wrappers): kubelet's hint chains in mangle decide;
// otherwise the flavour holding more rules wins; nft when both are empty.
import type { IPFamily } from '../../model/index.ts';
import type { Runner } from './exec.ts';

export type IptablesMode = 'nft' | 'legacy';
export const iptablesModes: readonly IptablesMode[] = ['nft', 'legacy'];

export interface Binaries {
  iptables: string;
  save: string;
  restore: string;
}

export function binaries(mode: IptablesMode, family: IPFamily): Binaries {
  const base = family === 'IPv6' ? 'ip6tables' : 'iptables';
  return { iptables: `${base}-${mode}`, save: `${base}-${mode}-save`, restore: `${base}-${mode}-restore` };
}

export interface ModeEvidence {
  /** Lines of `ip(6)tables-<mode>-save -t mangle` for IPv4 and IPv6, concatenated. */
  nftMangle: string;
  legacyMangle: string;
  /** Full `ip(6)tables-<mode>-save` output for IPv4 and IPv6, concatenated. */
  nftSave: string;
  legacySave: string;
}

const hint = /^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY)\b/m;
const ruleCount = (text: string) => text.split('\n').filter((l) => l.startsWith('-')).length;

/** The iptables-wrappers decision. */
export function decideMode(e: ModeEvidence): { mode: IptablesMode; reason: string } {
  if (hint.test(e.nftMangle)) return { mode: 'nft', reason: "kubelet's hint chain is in iptables-nft" };
  if (hint.test(e.legacyMangle)) return { mode: 'legacy', reason: "kubelet's hint chain is in iptables-legacy" };
  const legacy = ruleCount(e.legacySave);
  const nft = ruleCount(e.nftSave);
  if (legacy > nft) return { mode: 'legacy', reason: `iptables-legacy holds more rules (${legacy} against ${nft})` };
  return { mode: 'nft', reason: nft > 0 ? `iptables-nft holds at least as many rules (${nft} against ${legacy})` : 'no rules in either; nft is the default' };
}

/** Gathers the evidence with the real tools (a missing tool counts as empty) and decides. */
export async function detectMode(run: Runner): Promise<{ mode: IptablesMode; reason: string }> {
  const out = async (mode: IptablesMode, args: string[]) => {
    const texts = await Promise.all(
      (['IPv4', 'IPv6'] as const).map(async (f) => {
        const r = await run(binaries(mode, f).save, args, { timeoutMs: 5000 });
        return r.exitCode === 0 ? r.stdout : '';
      }),
    );
    return texts.join('\n');
  };
  const [nftMangle, legacyMangle] = await Promise.all([out('nft', ['-t', 'mangle']), out('legacy', ['-t', 'mangle'])]);
  if (hint.test(nftMangle) || hint.test(legacyMangle)) return decideMode({ nftMangle, legacyMangle, nftSave: '', legacySave: '' });
  const [nftSave, legacySave] = await Promise.all([out('nft', []), out('legacy', [])]);
  return decideMode({ nftMangle, legacyMangle, nftSave, legacySave });
}
