// The ipvs backend's test helpers: the backends' fixture cluster, the render options its
// tests share, and a pretend node whose ipvsadm is the IpvsTable model.
import type { IPFamily } from '../../model/index.ts';
import type { Runner } from '../common/index.ts';
import { clusterCIDRs, nodeIPv4, nodeIPv6 } from '../common/testing.ts';
import { IpvsTable, IpvsadmInputError, type Connection } from './ipvsadm.ts';
import type { RenderOptions } from './render.ts';

export * from '../common/testing.ts';

/** The fixture node's render options: NodePorts on its one address of the family. */
export function fixtureOptions(family: IPFamily, extra: Partial<RenderOptions> = {}): RenderOptions {
  const ip = family === 'IPv4' ? nodeIPv4 : nodeIPv6;
  return { family, clusterCIDRs, nodePortIPs: [ip], otherLocalAddresses: [ip], ...extra };
}

/**
 * Serves `ipvsadm` (-S -n, -R, -L -n -c, -C) from a model table and a connection list; every
 * other program goes to `next`. Lets the backend run where the kernel has no IPVS.
 */
export function ipvsModelRunner(next: Runner, table = new IpvsTable(), connections: Connection[] = []): { run: Runner; table: IpvsTable; connections: Connection[]; inputs: string[] } {
  const inputs: string[] = [];
  const run: Runner = async (file, args, o = {}) => {
    if (file !== 'ipvsadm') return next(file, args, o);
    const a = args.join(' ');
    if (a === '-S -n') return { exitCode: 0, stdout: table.save(), stderr: '' };
    if (a === '-C') {
      table.services.clear();
      return { exitCode: 0, stdout: '', stderr: '' };
    }
    if (a === '-L -n -c') {
      const lines = connections.map((c) => `${c.protocol} 14:59 ${c.state} ${c.source} ${c.virtual.split('/')[1]} ${c.destination}`);
      return { exitCode: 0, stdout: ['IPVS connection entries', 'pro expire state       source             virtual            destination', ...lines, ''].join('\n'), stderr: '' };
    }
    if (a === '-R') {
      inputs.push(o.input ?? '');
      try {
        table.apply(o.input ?? '');
        return { exitCode: 0, stdout: '', stderr: '' };
      } catch (e) {
        const line = e instanceof IpvsadmInputError ? e.line : 0;
        return { exitCode: 1, stdout: '', stderr: `${(e as Error).message}\nline: ${line}\n` };
      }
    }
    return { exitCode: 2, stdout: '', stderr: `model: unsupported ipvsadm ${a}` };
  };
  return { run, table, connections, inputs };
}
