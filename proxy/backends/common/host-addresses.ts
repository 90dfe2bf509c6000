// The addresses of the host's interfaces (where --nodeport-addresses CIDRs find the IPs
// NodePorts answer on), read with `ip -j addr show` through the backend's runner, so a
// backend run inside a network namespace sees that namespace's addresses.
import { parseIP } from '../../model/index.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Runner } from './exec.ts';

export async function readHostAddresses(run: Runner, log: Logger): Promise<string[]> {
  const r = await run('ip', ['-j', 'addr', 'show']);
  if (r.exitCode !== 0) {
    log.warn('could not list the node addresses: NodePorts limited by --nodeport-addresses will not answer', { stderr: r.stderr.trim() });
    return [];
  }
  const links = JSON.parse(r.stdout) as Array<{ addr_info?: Array<{ local?: string }> }>;
  return links.flatMap((l) => (l.addr_info ?? []).map((a) => a.local).filter((a): a is string => typeof a === 'string' && parseIP(a) !== undefined));
}
