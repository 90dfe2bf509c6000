// What a failed spec leaves for whoever reads the report: per node, its addresses, routes,
// neighbours and link counters, its rules (iptables and ip6tables in both flavours, nftables), its conntrack
// flows and the end of its proxy's log; and the spec's pods. Written before the spec's
// objects are removed.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Lab } from '../cluster/index.ts';
import type { Namespace } from '../netns/index.ts';

const COMMANDS: [title: string, file: string, args: string[]][] = [
  ['addresses', 'ip', ['addr', 'show']],
  ['IPv4 routes', 'ip', ['-4', 'route', 'show']],
  ['IPv6 routes', 'ip', ['-6', 'route', 'show']],
  ['neighbours', 'ip', ['neigh', 'show']],
  ['link counters', 'ip', ['-s', 'link', 'show']],
  ['iptables-nft-save', 'iptables-nft-save', []],
  ['ip6tables-nft-save', 'ip6tables-nft-save', []],
  ['iptables-legacy-save', 'iptables-legacy-save', []],
  ['ip6tables-legacy-save', 'ip6tables-legacy-save', []],
  ['nft list ruleset', 'nft', ['list', 'ruleset']],
  ['conntrack -L (IPv4)', 'conntrack', ['-L', '-f', 'ipv4']],
  ['conntrack -L (IPv6)', 'conntrack', ['-L', '-f', 'ipv6']],
];

async function describeNamespace(ns: Namespace): Promise<string> {
  const parts: string[] = [];
  for (const [title, file, args] of COMMANDS) {
    const r = await ns.run(file, args).catch((error: unknown) => ({ exitCode: -1, stdout: '', stderr: String(error) }));
    parts.push(`==== ${title}${r.exitCode === 0 ? '' : ` (exit ${r.exitCode})`}\n${r.stdout}${r.stderr ? `\n${r.stderr}` : ''}`);
  }
  return parts.join('\n');
}

/** Writes `<dir>/<node>.txt` per node and `<dir>/pods.txt`; returns the folder. */
export async function saveDiagnostics(lab: Lab, dir: string, namespace: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await Promise.all(
    lab.nodes.map(async (node) => {
      const log = lab.proxy(node.name).output().split('\n').slice(-200).join('\n');
      await writeFile(path.join(dir, `${node.name}.txt`), `${await describeNamespace(node)}\n==== proxy log (last 200 lines)\n${log}\n`);
    }),
  );
  const pods = lab.workloads.pods.filter((pod) => pod.namespace === namespace);
  const lines = pods.map((pod) => `${pod.name} on ${pod.node.name}: ${pod.ips.join(', ')} ready=${pod.ready} terminating=${pod.terminating} ports=${JSON.stringify(pod.ports)}`);
  await writeFile(path.join(dir, 'pods.txt'), `${lines.join('\n')}\n`);
  return dir;
}
