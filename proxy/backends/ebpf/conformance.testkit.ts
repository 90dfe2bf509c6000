// The conformance suite's hooks for to-ebpf (test support, left out of the image). Socket
// load balancing hooks a cgroup, not a network namespace (the descriptor's scope): the
// suite's topology gives each node a cgroup of its own holding its processes and its pods',
// and the proxy that node's cgroup and a pin folder of its own (`--cgroup-path`,
// `--pin-path`). Someone else wiping its state detaches its programs from the node's cgroup
// and deletes its nft table; the dump is its maps and that table.
import { processRunner } from '../common/index.ts';
import type { ConformanceHooks, SuiteNode as Node } from '../conformance/dataplanes.testkit.ts';
import { ebpfBackend } from './index.ts';
import { Bpftool, pinsUnder } from './kernel.ts';
import { allMaps } from './maps.ts';
import { nftTable } from './external.ts';

const bpftool = new Bpftool(processRunner());

/** The node's cgroup and pins, as the suite gave them to its proxy. */
function placed(node: Node): { cgroup: string; pins: ReturnType<typeof pinsUnder> } {
  const scope = ebpfBackend.scope;
  if (scope.kind !== 'cgroup' || node.cgroup === undefined) throw new Error(`node ${node.name} has no cgroup of its own: to-ebpf runs only on a topology made with nodeCgroups`);
  return { cgroup: node.cgroup, pins: pinsUnder(node.stateDir(scope.stateFlag.under)) };
}

const ebpfHooks: ConformanceHooks = {
  flush: async (node) => {
    const { cgroup } = placed(node);
    await bpftool.detachAll(cgroup);
    await node.exec('nft', ['delete', 'table', ...nftTable.split(' ')]);
  },
  dump: async (node) => {
    const { cgroup, pins } = placed(node);
    const out = [`# bpftool cgroup show ${cgroup}`, (await processRunner()('bpftool', ['cgroup', 'show', cgroup])).stdout];
    for (const m of allMaps) {
      const r = await processRunner()('bpftool', ['map', 'dump', 'pinned', `${pins.mapDir}/${m}`]);
      out.push(`# map ${m}`, r.exitCode === 0 ? r.stdout : r.stderr);
    }
    const table = await node.run('nft', ['list', 'table', ...nftTable.split(' ')]);
    out.push(`# nft list table ${nftTable}`, table.exitCode === 0 ? table.stdout : table.stderr);
    return out.join('\n');
  },
  // The node's own processes and pods are balanced at connect and sendmsg.
  balancesSockets: true,
};

/** Per subject id (ebpfBackend.subjects). */
export const conformanceHooks: Readonly<Record<string, ConformanceHooks>> = { ebpf: ebpfHooks };
