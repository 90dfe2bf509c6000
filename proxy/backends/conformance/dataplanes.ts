// The backends the dataplane conformance suite proves, and what the suite needs to know
// about each: the pipeline stage that runs it, how someone else would flush its rules,
// and (where there is a real way) how to make the kernel tool reject its input.
//
// A backend joins the suite by its entry in `dataplanes` at the bottom.
import type { Family, Node, Topology } from '../../../harness/lab/netns/index.ts';
import { familyFromLower } from '../../model/index.ts';

export interface Dataplane {
  /** The suite's title for it. */
  readonly title: string;
  /** The backend's own name: what /proxyMode answers. */
  readonly proxyMode: string;
  /** The pipeline stage (`to-iptables`), and its flags for a topology. */
  readonly stage: string;
  args(topology: Topology): string[];
  /**
   * Whether endpoints see the client's own address. Not for a proxy that carries the
   * traffic in its own sockets (userspace): its connections to endpoints come from the
   * node. The specs that assert the client's address run only where this holds.
   */
  readonly keepsClientAddress: boolean;
  /** The kube-proxy counter that rises with each failed sync. */
  readonly failureCounter: string;
  /** What someone else does to wipe the backend's rules on a node (a firewall reload, `nft flush ruleset`). */
  flush(node: Node, families: readonly Family[]): Promise<void>;
  /** The rules on a node, for failure messages. */
  dump(node: Node, families: readonly Family[]): Promise<string>;
  /**
   * A real way to make the kernel tool reject the backend's input: `hold` makes something
   * else on the node depend on the rules of a Service, so that removing the Service cannot
   * be applied (until the returned function undoes it). `log` is how the rejection,
   * with the offending input line, shows in the backend's log. `persistent`: every sync
   * fails until the hold is undone (else the full sync after the failure succeeds anyway).
   */
  readonly rejection?: {
    hold(node: Node, families: readonly Family[], service: { namespace: string; name: string; port: string }): Promise<() => Promise<void>>;
    log: RegExp;
    persistent: boolean;
  };
}

const families = (fs: readonly Family[]) => fs.map(familyFromLower);

/** kube-proxy's iptables mode (`to-iptables`) in one iptables flavour. */
export function iptablesDataplane(mode: 'nft' | 'legacy'): Dataplane {
  const tool = (f: Family, suffix = '') => `${f === 'ipv6' ? 'ip6tables' : 'iptables'}-${mode}${suffix}`;
  const hold = 'CONFORMANCE-HOLD';
  return {
    title: `iptables (${mode})`,
    proxyMode: 'iptables',
    stage: 'to-iptables',
    keepsClientAddress: true,
    args: (t) => [`--cluster-cidr=${t.clusterCidrs.join(',')}`, `--iptables-mode=${mode}`, `--ip-families=${families(t.families).join(',')}`],
    failureCounter: 'kubeproxy_sync_proxy_rules_iptables_restore_failures_total',
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

const nftFamily = (f: Family) => (f === 'ipv6' ? 'ip6' : 'ip');

/** kube-proxy's nftables mode (`to-nft`), tables `ip kpng` and `ip6 kpng`. */
export const nftDataplane: Dataplane = {
  title: 'nftables',
  proxyMode: 'nftables',
  stage: 'to-nft',
  keepsClientAddress: true,
  args: (t) => [`--cluster-cidr=${t.clusterCidrs.join(',')}`, `--ip-families=${families(t.families).join(',')}`],
  failureCounter: 'kubeproxy_sync_proxy_rules_nftables_sync_failures_total',
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

/**
 * kube-proxy's userspace mode (`to-userspace`): the proxy's sockets carry the traffic,
 * redirected into them by nat rules of one iptables flavour, which someone wipes as they
 * wipe iptables' (the same firewall reload). Its connections to endpoints come from the node.
 */
export function userspaceDataplane(mode: 'nft' | 'legacy'): Dataplane {
  const rules = iptablesDataplane(mode);
  return {
    title: `userspace (${mode})`,
    proxyMode: 'userspace',
    stage: 'to-userspace',
    keepsClientAddress: false,
    args: (t) => [`--iptables-mode=${mode}`, `--ip-families=${families(t.families).join(',')}`],
    failureCounter: 'kpng_sync_failures_total',
    flush: rules.flush,
    dump: rules.dump,
  };
}

/** The backends the suite runs, each in an IPv4 and an IPv6 topology. */
export const dataplanes: readonly Dataplane[] = [iptablesDataplane('nft'), iptablesDataplane('legacy'), nftDataplane, userspaceDataplane('nft'), userspaceDataplane('legacy')];
