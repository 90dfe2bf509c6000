// The backends the dataplane conformance suite proves, and what the suite needs to know
// about each. The data comes from the registered descriptors (proxy/backends/registry.ts):
// every subject (variant) of every backend that runs on this kernel, its stage, flags,
// /proxyMode word and failure counter. What is not data lives here, per subject id: how
// someone else would flush its rules, how to dump them, and (where there is a real way)
// how to make the kernel tool reject its input.
import type { Family, Node, Topology } from '../../../harness/lab/netns/index.ts';
import { errorText } from '../../errors.ts';
import { familyFromLower } from '../../model/index.ts';
import { failureMetricNames, type BackendDescriptor, type BackendSubject } from '../backend.ts';
import { iptablesBackend } from '../iptables/index.ts';
import { nftBackend } from '../nft/index.ts';
import { registeredBackends } from '../registry.ts';

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

/** What the suite does to a subject's rules from outside: everything of a Dataplane that is not the descriptor's data. */
type Hooks = Pick<Dataplane, 'flush' | 'dump' | 'rejection'> & Partial<Pick<Dataplane, 'keepsClientAddress'>>;

/** kube-proxy's iptables mode (`to-iptables`) in one iptables flavour. */
function iptablesHooks(mode: 'nft' | 'legacy'): Hooks {
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

const nftFamily = (f: Family) => (f === 'ipv6' ? 'ip6' : 'ip');

/** kube-proxy's nftables mode (`to-nft`), tables `ip kpng` and `ip6 kpng`. */
const nftHooks: Hooks = {
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

/** Per subject id (BackendDescriptor.subjects): how the suite flushes, dumps and makes the kernel refuse its rules. */
const hooks: Readonly<Record<string, Hooks>> = {
  'iptables-nft': iptablesHooks('nft'),
  'iptables-legacy': iptablesHooks('legacy'),
  nft: nftHooks,
  // userspace: the proxy's sockets carry the traffic, redirected by nat rules of one iptables
  // flavour that a firewall reload wipes as it wipes iptables'; endpoints see the node.
  'userspace-nft': { flush: iptablesHooks('nft').flush, dump: iptablesHooks('nft').dump, keepsClientAddress: false },
  'userspace-legacy': { flush: iptablesHooks('legacy').flush, dump: iptablesHooks('legacy').dump, keepsClientAddress: false },
};

/** One subject of a registered backend, as the suite runs it: `to-<name>`, the topology's CIDRs and families around the subject's flags. */
export function dataplaneOf(d: BackendDescriptor, subject: BackendSubject): Dataplane {
  const h = hooks[subject.id];
  if (!h) {
    throw new Error(
      errorText('KPNG_ERR_CONFORMANCE_SUBJECT', `${d.name}'s subject "${subject.id}" has no flush and dump for the conformance suite; accepted: a subject id with hooks in proxy/backends/conformance/dataplanes.ts (${Object.keys(hooks).join(', ')})`),
    );
  }
  return {
    title: subject.title,
    proxyMode: d.proxyMode,
    stage: `to-${d.name}`,
    args: (t) => [`--cluster-cidr=${t.clusterCidrs.join(',')}`, ...subject.args, `--ip-families=${families(t.families).join(',')}`],
    failureCounter: failureMetricNames[d.metrics.failures][0] ?? 'kpng_sync_failures_total',
    keepsClientAddress: true,
    ...h,
  };
}

function subjectOf(d: BackendDescriptor, id: string): BackendSubject {
  const found = d.subjects.find((s) => s.id === id);
  if (!found) throw new Error(errorText('KPNG_ERR_CONFORMANCE_SUBJECT', `${d.name} has no subject "${id}" (it has: ${d.subjects.map((s) => s.id).join(', ')})`));
  return found;
}

/** `to-iptables` in one iptables flavour. */
export function iptablesDataplane(mode: 'nft' | 'legacy'): Dataplane {
  return dataplaneOf(iptablesBackend, subjectOf(iptablesBackend, `iptables-${mode}`));
}

/** `to-nft`. */
export const nftDataplane: Dataplane = dataplaneOf(nftBackend, subjectOf(nftBackend, 'nft'));

/** The backends the suite runs, each in an IPv4 and an IPv6 topology: every subject of every registered backend that runs on this kernel. */
export const dataplanes: readonly Dataplane[] = registeredBackends.filter((d) => d.proof === 'runs').flatMap((d) => d.subjects.map((s) => dataplaneOf(d, s)));
