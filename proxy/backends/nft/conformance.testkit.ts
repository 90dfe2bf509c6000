// The conformance suite's hooks for to-nft (test support, left out of the image): what
// someone else does to its tables on a node, how to dump them, and a real way to make nft
// refuse a transaction. Keyed by the descriptor's subject ids.
import type { LowerIPFamily as Family } from '../../model/index.ts';
import type { ConformanceHooks } from '../conformance/dataplanes.testkit.ts';

const nftFamily = (f: Family) => (f === 'ipv6' ? 'ip6' : 'ip');

/** kube-proxy's nftables mode (`to-nft`), tables `ip kpng` and `ip6 kpng`. */
const nftHooks: ConformanceHooks = {
  flush: async (node, fs) => {
    for (const f of fs) await node.exec('nft', ['delete', 'table', nftFamily(f), 'kpng']);
  },
  dump: (node) => node.nftRuleset(),
  rejection: {
    // Someone deletes the Service's ClusterIP from @cluster-ips (which only rejects unused
    // ports of ClusterIPs, so traffic is unchanged): the partial sync that removes the
    // Service deletes that element too, and the kernel refuses to delete what is not
    // there (ENOENT). Nothing outside the table can hold it, so the full sync after the
    // failure, which replaces the whole table, succeeds with the hold in place.
    hold: async (node, fs, svc) => {
      for (const f of fs) {
        const map = await node.exec('nft', ['list', 'map', nftFamily(f), 'kpng', 'service-ips']);
        const ip = new RegExp(`([0-9a-f.:]+) \\. tcp \\. \\d+ : goto service-[A-Z2-7]{8}-${svc.namespace}/${svc.name}/tcp/${svc.port}\\b`).exec(map)?.[1];
        if (ip === undefined) throw new Error(`no service-ips element for ${svc.namespace}/${svc.name}:${svc.port} in:\n${map}`);
        await node.exec('nft', ['delete', 'element', nftFamily(f), 'kpng', 'cluster-ips', `{ ${ip} }`]);
      }
      return () => Promise.resolve();
    },
    log: /KPNG_ERR_NFT_TRANSACTION: nft rejected the partial sync rules at input line \d+: delete element ip6? kpng cluster-ips \{ [^}]+ \} \(/,
    persistent: false,
  },
};

/** Per subject id (nftBackend.subjects). */
export const conformanceHooks: Readonly<Record<string, ConformanceHooks>> = { nft: nftHooks };
