// The conformance suite's hooks for to-iptables (test support, left out of the image): what
// someone else does to its rules on a node (a firewall reload), how to dump them, and a real
// way to make iptables-restore refuse its input. Keyed by the descriptor's subject ids.
import type { LowerIPFamily as Family } from '../../model/index.ts';
import type { ConformanceHooks } from '../conformance/dataplanes.testkit.ts';

/** kube-proxy's iptables mode (`to-iptables`) in one iptables flavour. */
export function iptablesHooks(mode: 'nft' | 'legacy'): ConformanceHooks {
  const tool = (f: Family, suffix = '') => `${f === 'ipv6' ? 'ip6tables' : 'iptables'}-${mode}${suffix}`;
  const hold = 'CONFORMANCE-HOLD';
  return {
    // What a firewall reload does: every rule and every chain of the tables, gone, in one
    // restore (without --noflush) per family, so that the proxy cannot repair a table
    // while the next one is still being wiped.
    flush: async (node, fs) => {
      for (const f of fs) await node.exec(tool(f, '-restore'), ['-w', '5'], { input: '*nat\nCOMMIT\n*filter\nCOMMIT\n*mangle\nCOMMIT\n' });
    },
    dump: async (node, fs) => (await Promise.all(fs.map((f) => node.exec(tool(f, '-save'))))).join('\n'),
    rejection: {
      // A chain of someone else's jumps to the Service's KUBE-SVC chain: iptables-restore
      // cannot delete a chain still referenced (EBUSY), so the sync that removes the
      // Service is rejected, at its `-X KUBE-SVC-...` line, and every full sync after it too.
      hold: async (node, fs, svc) => {
        const comment = `${svc.namespace}/${svc.name}:${svc.port}`;
        const held: Family[] = [];
        for (const f of fs) {
          const saved = await node.exec(tool(f, '-save'), ['-t', 'nat']);
          const chain = saved
            .split('\n')
            .find((l) => l.startsWith('-A KUBE-SERVICES ') && l.includes(`${comment} cluster IP`))
            ?.match(/-j (KUBE-SVC-[A-Z2-7]{16})$/)?.[1];
          if (chain === undefined) throw new Error(`no KUBE-SVC chain for ${comment} in ${tool(f, '-save')} -t nat:\n${saved}`);
          await node.exec(tool(f), ['-w', '5', '-t', 'nat', '-N', hold]);
          await node.exec(tool(f), ['-w', '5', '-t', 'nat', '-A', hold, '-j', chain]);
          held.push(f);
        }
        return async () => {
          for (const f of held) for (const op of ['-F', '-X']) await node.exec(tool(f), ['-w', '5', '-t', 'nat', op, hold]);
        };
      },
      log: /KPNG_ERR_IPTABLES_RESTORE: \S+ rejected the IPv[46] rules at input line \d+: -X KUBE-SVC-[A-Z2-7]{16} \(/,
      persistent: true,
    },
  };
}

/** Per subject id (iptablesBackend.subjects). */
export const conformanceHooks: Readonly<Record<string, ConformanceHooks>> = {
  'iptables-nft': iptablesHooks('nft'),
  'iptables-legacy': iptablesHooks('legacy'),
};
