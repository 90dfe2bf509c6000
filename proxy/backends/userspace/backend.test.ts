// What a sync does with the view and its change set: a full sync programs every family; a
// partial one touches, per family, only the service ports that differ in it (an endpoint
// change only feeds the pool: no rule is rewritten, no listener reopened); a node change
// is synced in full. Real listeners on every address, a recording runner instead of
// ip(6)tables.
import { afterEach, describe, expect, it } from 'vitest';
import { nodeView } from '../../model/index.ts';
import { changesBetween, node, service } from '../../model/testing.ts';
import { memoryLogger } from '../../runtime/log.ts';
import type { RunOptions, RunResult } from '../common/index.ts';
import { fixtureObjects, fixtureObjectsAfterEndpointChange, fixtureState, nodeName } from '../common/testing.ts';
import { UserspaceBackend } from './backend.ts';

interface Ran {
  command: string;
  input: string | undefined;
}

const backends: UserspaceBackend[] = [];
/** The next ip(6)tables-restore fails. */
let failNext = false;
afterEach(async () => {
  failNext = false;
  for (const b of backends.splice(0)) await b.stop(0);
});

function backend(nodePortAddresses: string[] = []): { backend: UserspaceBackend; ran: Ran[] } {
  const ran: Ran[] = [];
  const b = new UserspaceBackend({
    logger: memoryLogger(),
    mode: 'nft',
    families: ['IPv4', 'IPv6'],
    nodePortAddresses,
    run: (file: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> => {
      ran.push({ command: [file, ...args].join(' '), input: opts?.input });
      const fail = failNext && file.endsWith('-restore');
      if (fail) failNext = false;
      return Promise.resolve(fail ? { exitCode: 1, stdout: '', stderr: 'iptables-restore: line 2 failed' } : { exitCode: 0, stdout: '', stderr: '' });
    },
  });
  backends.push(b);
  return { backend: b, ran };
}

const restores = (ran: Ran[]) => ran.filter((r) => r.command.includes('-restore --noflush') && r.input?.startsWith('*nat')).map((r) => r.command.split(' ')[0]);

/** The fixture with one object replaced (by kind and name). */
function replaced(kind: string, name: string, by: unknown): unknown[] {
  return fixtureObjects().map((o) => (isObject(o, kind, name) ? by : o));
}

function isObject(o: unknown, kind: string, name: string): boolean {
  const { kind: k, metadata } = o as { kind?: string; metadata?: { name?: string } };
  return k === kind && metadata?.name === name;
}

const svc1 = 'ns1/svc1:p80';

describe('UserspaceBackend.sync', () => {
  it('a full sync programs both families and opens a listener per frontend', async () => {
    const { backend: b, ran } = backend();
    const stats = await b.sync(nodeView(fixtureState()), undefined);
    expect(stats.full).toBe(true);
    expect(restores(ran)).toEqual(['iptables-nft-restore', 'ip6tables-nft-restore']);
    expect(b.portOf(`${svc1}|TCP|IPv4|cluster-ip|172.30.0.41`)).toBeGreaterThan(0);
    expect(b.portOf(`${svc1}|TCP|IPv6|cluster-ip|fd00:30::41`)).toBeGreaterThan(0);
    expect(stats.leftOut).toEqual(['ns9/svc9:sctp']);
  });

  it('an endpoint change of one family: its pool takes the new set; no rule is rewritten, no listener reopened', async () => {
    const { backend: b, ran } = backend();
    const before = fixtureState();
    await b.sync(nodeView(before), undefined);
    const port = b.portOf(`${svc1}|TCP|IPv4|cluster-ip|172.30.0.41`);
    const v6 = b.targetsOf(svc1, 'IPv6', 'internal');
    ran.length = 0;
    const after = fixtureState(fixtureObjectsAfterEndpointChange());
    const changes = changesBetween(before, after);
    expect([...changes.families.IPv4.ports.keys()]).toEqual([svc1]);
    const stats = await b.sync(nodeView(after), changes);
    expect(stats.full).toBe(false);
    expect(restores(ran)).toEqual([]);
    expect(b.targetsOf(svc1, 'IPv4', 'internal')?.sort()).toEqual(['10.180.0.1#80', '10.180.0.13#80', '10.180.0.2#80']);
    expect(b.targetsOf(svc1, 'IPv6', 'internal')).toEqual(v6);
    expect(b.portOf(`${svc1}|TCP|IPv4|cluster-ip|172.30.0.41`)).toBe(port);
  });

  it("a service change of one family rewrites that family's rules only; a frontend that left loses its listener, the others keep theirs", async () => {
    const { backend: b, ran } = backend();
    const before = fixtureState();
    await b.sync(nodeView(before), undefined);
    const clusterIPFrontend = 'ns4/svc4:p80|TCP|IPv4|cluster-ip|172.30.0.44';
    const externalIPFrontend = 'ns4/svc4:p80|TCP|IPv4|external-ip|192.168.99.33';
    const port = b.portOf(clusterIPFrontend);
    expect(b.portOf(externalIPFrontend)).toBeGreaterThan(0);
    ran.length = 0;
    // svc4 (IPv4 only) loses its ExternalIP.
    const after = fixtureState(replaced('Service', 'svc4', service('svc4', { namespace: 'ns4', type: 'NodePort', clusterIPs: ['172.30.0.44'], ports: [{ name: 'p80', port: 80, nodePort: 3004 }] })));
    const stats = await b.sync(nodeView(after), changesBetween(before, after));
    expect(stats.full).toBe(false);
    expect(restores(ran)).toEqual(['iptables-nft-restore']);
    expect(ran.find((r) => r.input?.startsWith('*nat'))!.input).not.toContain('192.168.99.33');
    expect(b.portOf(externalIPFrontend)).toBeUndefined();
    expect(b.portOf(clusterIPFrontend)).toBe(port);
  });

  it('a change of the node syncs in full: --nodeport-addresses=primary follows its new address', async () => {
    const { backend: b, ran } = backend(['primary']);
    const before = fixtureState();
    await b.sync(nodeView(before), undefined);
    expect(ran.find((r) => r.command.startsWith('iptables-nft-restore'))!.input).toContain('-d 192.168.0.2/32 -p tcp -m tcp --dport 3004');
    ran.length = 0;
    const after = fixtureState(replaced('Node', nodeName, node(nodeName, { addresses: ['192.168.0.9', '2001:db8::9'] })));
    const changes = changesBetween(before, after);
    expect(changes.node).toBe(true);
    const stats = await b.sync(nodeView(after), changes);
    expect(stats.full).toBe(true);
    // A full sync also checks the jumps (-C) and rewrites both families.
    expect(ran.some((r) => r.command.includes(' -C '))).toBe(true);
    expect(restores(ran)).toEqual(['iptables-nft-restore', 'ip6tables-nft-restore']);
    const v4 = ran.find((r) => r.command.startsWith('iptables-nft-restore'))!.input!;
    expect(v4).toContain('-d 192.168.0.9/32 -p tcp -m tcp --dport 3004');
    expect(v4).not.toContain('192.168.0.2/32');
  });

  it('after a failed sync the next one is full, whatever the change set says', async () => {
    const { backend: b, ran } = backend();
    const before = fixtureState();
    await b.sync(nodeView(before), undefined);
    const after = fixtureState(fixtureObjectsAfterEndpointChange());
    const removed = fixtureState(fixtureObjects().filter((o) => !isObject(o, 'Service', 'svc4')));
    ran.length = 0;
    failNext = true;
    await expect(b.sync(nodeView(removed), changesBetween(before, removed))).rejects.toThrow(/^KPNG_ERR_USERSPACE_RESTORE/);
    // The runtime hands the next state with what differs from the last applied view.
    const stats = await b.sync(nodeView(after), changesBetween(before, after));
    expect(stats.full).toBe(true);
    expect(restores(ran).slice(-2)).toEqual(['iptables-nft-restore', 'ip6tables-nft-restore']);
  });
});
