// The backend against a pretend node (ipvsadm = the IpvsTable model, ipset and ip in
// memory, iptables from the iptables backend's fake): full and partial syncs write only
// what changed, and removed real servers drain before they go.
import { describe, expect, it } from 'vitest';
import { nodeView, type LocalState } from '../../model/index.ts';
import { memoryLogger } from '../../runtime/index.ts';
import type { Runner } from '../common/index.ts';
import { fakeKernel } from '../iptables/testing.ts';
import { IpvsBackend } from './backend.ts';
import { parseIpsetSave, type SavedSet } from './ipset.ts';
import type { Connection } from './ipvsadm.ts';
import { renderFamily } from './render.ts';
import { clusterCIDRs, fixtureObjects, fixtureObjectsAfterEndpointChange, fixtureOptions, fixtureState, ipvsModelRunner, nodeIPv4, nodeIPv6 } from './testing.ts';
import { changesBetween, slice } from '../../model/testing.ts';

const named = (o: unknown) => (o as { metadata: { name: string } }).metadata.name;

/** ipset and ip (kube-ipvs0) in memory; the rest to the iptables fake. */
function fakeNode() {
  const ipt = fakeKernel();
  const sets = new Map<string, SavedSet>();
  const bound = new Set<string>();
  const calls: Array<{ file: string; args: string; input: string }> = [];
  const base: Runner = async (file, args, o = {}) => {
    const a = args.join(' ');
    if (file === 'ipset') {
      if (a === 'save') return { exitCode: 0, stdout: [...sets.values()].flatMap((s) => [`create ${s.name} ${s.type}${s.family ? ` family ${s.family}` : ''}`, ...[...s.members].map((m) => `add ${s.name} ${m}`)]).join('\n'), stderr: '' };
      if (a === 'list -n') return { exitCode: 0, stdout: [...sets.keys()].join('\n'), stderr: '' };
      if (a === 'list -t') return { exitCode: 0, stdout: [...sets.values()].map((s) => `Name: ${s.name}\nType: ${s.type}\nNumber of entries: ${s.members.size}\n`).join('\n'), stderr: '' };
      for (const line of (o.input ?? '').split('\n').filter(Boolean)) {
        const w = line.split(' ');
        if (w[0] === 'create' && !sets.has(w[1]!)) sets.set(w[1]!, parseIpsetSave(line).get(w[1]!)!);
        if (w[0] === 'add') sets.get(w[1]!)!.members.add(w[2]!);
        if (w[0] === 'del') sets.get(w[1]!)!.members.delete(w[2]!);
        if (w[0] === 'destroy') sets.delete(w[1]!);
      }
      return { exitCode: 0, stdout: '', stderr: '' };
    }
    if (file === 'ip') {
      if (args.includes('-batch')) {
        for (const line of (o.input ?? '').split('\n').filter(Boolean)) {
          const [, op, cidr] = line.split(' ');
          if (op === 'add') bound.add(cidr!.split('/')[0]!);
          else bound.delete(cidr!.split('/')[0]!);
        }
        return { exitCode: 0, stdout: '', stderr: '' };
      }
      if (a.endsWith(`addr show dev kube-ipvs0`)) {
        const six = args.includes('-6');
        return { exitCode: 0, stdout: JSON.stringify([{ ifname: 'kube-ipvs0', addr_info: [...bound].filter((x) => x.includes(':') === six).map((local) => ({ local })) }]), stderr: '' };
      }
      if (a === '-j addr show') {
        return { exitCode: 0, stdout: JSON.stringify([{ ifname: 'lo', addr_info: [{ local: '127.0.0.1' }, { local: '::1' }] }, { ifname: 'eth0', addr_info: [{ local: nodeIPv4 }, { local: nodeIPv6 }] }, { ifname: 'kube-ipvs0', addr_info: [...bound].map((local) => ({ local })) }]), stderr: '' };
      }
      return { exitCode: 0, stdout: '', stderr: '' };
    }
    return ipt.run(file, args, o);
  };
  const connections: Connection[] = [];
  const model = ipvsModelRunner(base, undefined, connections);
  const run: Runner = async (file, args, o = {}) => {
    calls.push({ file, args: args.join(' '), input: o.input ?? '' });
    return model.run(file, args, o);
  };
  const written = (file: string, from = 0) => calls.slice(from).filter((c) => c.file === file && c.input !== '').map((c) => c.input);
  return { run, calls, sets, bound, table: model.table, connections, written, ipt };
}

const backendOn = (node: ReturnType<typeof fakeNode>, clock = { now: 0 }) =>
  new IpvsBackend({ logger: memoryLogger(), clusterCIDRs, mode: 'nft', run: node.run, now: () => clock.now, drainTimeoutMs: 60_000 });

/** The kernel the model holds equals a full render of `state` on a fresh node. */
function expectKernelIs(node: ReturnType<typeof fakeNode>, state: LocalState) {
  const want = ['IPv4', 'IPv6'].map((f) => renderFamily(nodeView(state), fixtureOptions(f as 'IPv4' | 'IPv6')));
  const fresh = new Set(want.flatMap((r) => r.ipvsadm.split('\n').filter(Boolean)));
  expect(new Set(node.table.save().split('\n').filter(Boolean))).toEqual(fresh);
  for (const r of want) for (const [name, members] of r.plan.sets) expect([...node.sets.get(name)!.members].sort(), name).toEqual([...members].sort());
  expect([...node.bound].sort()).toEqual(want.flatMap((r) => [...r.plan.bind]).sort());
}

describe('full sync', () => {
  it('on a fresh node writes the full render of each family and binds every service address', async () => {
    const node = fakeNode();
    const b = backendOn(node);
    const s = fixtureState();
    const stats = await b.sync(nodeView(s), undefined);
    expect(stats.full).toBe(true);
    expect(node.written('ipvsadm')).toEqual([renderFamily(nodeView(s), fixtureOptions('IPv4')).ipvsadm, renderFamily(nodeView(s), fixtureOptions('IPv6')).ipvsadm]);
    expectKernelIs(node, s);
  });

  it('by a new process reads the kernel back and writes nothing for an unchanged state but the iptables rules', async () => {
    const node = fakeNode();
    const s = fixtureState();
    await backendOn(node).sync(nodeView(s), undefined);
    const from = node.calls.length;
    await backendOn(node).sync(nodeView(s), undefined);
    expect(node.written('ipvsadm', from)).toEqual([]);
    expect(node.written('ip', from)).toEqual([]);
    // Only the create lines (idempotent) go to ipset.
    for (const t of node.written('ipset', from)) expect(t.split('\n').filter(Boolean).every((l) => l.startsWith('create '))).toBe(true);
  });

  it('--dry-run prints the ipvsadm, ipset, iptables and address inputs of both families and runs nothing', async () => {
    const node = fakeNode();
    let out = '';
    const b = new IpvsBackend({ logger: memoryLogger(), clusterCIDRs, dryRun: true, run: node.run, write: (t) => (out += t) });
    await b.sync(nodeView(fixtureState()), undefined);
    expect(node.calls).toEqual([]);
    for (const f of ['IPv4', 'IPv6']) for (const what of ['ipvsadm -R', 'ipset restore', 'iptables-nft-restore --noflush', 'ip -batch -']) expect(out).toContain(`${f}, for ${what.replace('iptables', f === 'IPv6' ? 'ip6tables' : 'iptables')}`);
    expect(out).toContain('-A -t 172.30.0.41:80 -s rr');
    expect(out).toContain('add KUBE-6-CLUSTER-IP fd00:30::41,tcp:80 -exist');
  });
});

describe('partial sync', () => {
  it('an endpoint added: exactly one real server line per virtual server of that port, nothing else', async () => {
    const node = fakeNode();
    const b = backendOn(node);
    const s1 = fixtureState();
    await b.sync(nodeView(s1), undefined);
    const from = node.calls.length;
    const s2 = fixtureState(fixtureObjectsAfterEndpointChange());
    const stats = await b.sync(nodeView(s2), changesBetween(s1, s2));
    expect(stats.full).toBe(false);
    expect(node.written('ipvsadm', from)).toEqual(['-a -t 172.30.0.41:80 -r 10.180.0.13:80 -m -w 1\n']);
    expect(node.written('ipset', from)).toEqual([]);
    expect(node.written('iptables-nft-restore', from)).toEqual([]);
    expect(node.written('ip', from)).toEqual([]);
    expectKernelIs(node, s2);
  });

  it('a Service removed: its virtual servers, set members and addresses only; a family it lacks gets nothing', async () => {
    const node = fakeNode();
    const b = backendOn(node);
    const s1 = fixtureState();
    await b.sync(nodeView(s1), undefined);
    const from = node.calls.length;
    const s2 = fixtureState(fixtureObjects().filter((o) => named(o) !== 'svc10'));
    await b.sync(nodeView(s2), changesBetween(s1, s2));
    expect(node.written('ipvsadm', from)).toEqual(['-D -u 172.30.0.50:53\n']);
    expect(node.written('ipset', from)).toEqual(['del KUBE-CLUSTER-IP 172.30.0.50,udp:53 -exist\ndel KUBE-IPVS-IPS 172.30.0.50 -exist\n']);
    expect(node.written('ip', from)).toEqual(['address del 172.30.0.50/32 dev kube-ipvs0\n']);
    expect(node.written('ip6tables-nft-restore', from)).toEqual([]);
    expectKernelIs(node, s2);
  });

  it('a change that empties a set rewrites the iptables rules (a rule matching it goes)', async () => {
    const node = fakeNode();
    const b = backendOn(node);
    const s1 = fixtureState();
    await b.sync(nodeView(s1), undefined);
    const from = node.calls.length;
    const s2 = fixtureState(fixtureObjects().filter((o) => !['svc5', 'svc5-v4', 'svc5-v6'].includes(named(o))));
    await b.sync(nodeView(s2), changesBetween(s1, s2));
    const v4 = node.written('iptables-nft-restore', from);
    expect(v4).toHaveLength(1);
    expect(v4[0]).not.toContain('KUBE-LOAD-BALANCER-FW');
    expect(v4[0]).not.toMatch(/^-I /m);
    expectKernelIs(node, s2);
  });
});

describe('graceful removal of real servers', () => {
  // svc4 loses 10.180.0.22: three virtual servers (cluster IP, NodePort, external IP) had it.
  const without22 = () =>
    fixtureState(fixtureObjects().map((o) => (named(o) === 'svc4' && (o as { kind: string }).kind === 'EndpointSlice' ? slice('svc4', 'svc4', ['10.180.0.20', '10.180.0.21'], { namespace: 'ns4', ports: [{ name: 'p80', port: 80 }] }) : o)));

  it('weight 0 first; deleted where the connection list shows none, kept where a connection drains, deleted once it is gone', async () => {
    const node = fakeNode();
    const clock = { now: 0 };
    const b = backendOn(node, clock);
    const s1 = fixtureState();
    await b.sync(nodeView(s1), undefined);
    node.connections.push(
      { protocol: 'TCP', state: 'ESTABLISHED', source: '10.1.2.3:40000', virtual: 'TCP/172.30.0.44:80', destination: '10.180.0.22:80' },
      // A persistence template is no connection.
      { protocol: 'TCP', state: 'NONE', source: '10.1.2.3:0', virtual: 'TCP/192.168.99.33:80', destination: '10.180.0.22:80' },
    );
    const from = node.calls.length;
    const s2 = without22();
    await b.sync(nodeView(s2), changesBetween(s1, s2));
    const ipvs = node.written('ipvsadm', from);
    expect(ipvs[0]).toBe(['-e -t 172.30.0.44:80 -r 10.180.0.22:80 -m -w 0', '-e -t 192.168.0.2:3004 -r 10.180.0.22:80 -m -w 0', '-e -t 192.168.99.33:80 -r 10.180.0.22:80 -m -w 0', ''].join('\n'));
    expect(ipvs[1]).toBe(['-d -t 192.168.0.2:3004 -r 10.180.0.22:80', '-d -t 192.168.99.33:80 -r 10.180.0.22:80', ''].join('\n'));
    expect(node.table.services.get('TCP/172.30.0.44:80')!.reals.get('10.180.0.22:80')).toEqual({ address: '10.180.0.22', port: 80, weight: 0 });
    expect(b.drainer.draining).toEqual(['TCP/172.30.0.44:80/10.180.0.22:80']);
    // Still busy: stays.
    expect(await b.drain()).toEqual([]);
    node.connections.splice(0);
    expect(await b.drain()).toEqual(['TCP/172.30.0.44:80/10.180.0.22:80']);
    expectKernelIs(node, s2);
  });

  it('a connection that never ends: deleted after the drain timeout', async () => {
    const node = fakeNode();
    const clock = { now: 0 };
    const b = backendOn(node, clock);
    const s1 = fixtureState();
    await b.sync(nodeView(s1), undefined);
    node.connections.push({ protocol: 'TCP', state: 'ESTABLISHED', source: '10.1.2.3:40000', virtual: 'TCP/172.30.0.44:80', destination: '10.180.0.22:80' });
    const s2 = without22();
    await b.sync(nodeView(s2), changesBetween(s1, s2));
    clock.now = 59_000;
    expect(await b.drain()).toEqual([]);
    clock.now = 60_000;
    expect(await b.drain()).toEqual(['TCP/172.30.0.44:80/10.180.0.22:80']);
  });

  it('an endpoint back while draining gets weight 1 again and is no longer drained', async () => {
    const node = fakeNode();
    const b = backendOn(node);
    const s1 = fixtureState();
    await b.sync(nodeView(s1), undefined);
    node.connections.push({ protocol: 'TCP', state: 'ESTABLISHED', source: '10.1.2.3:40000', virtual: 'TCP/172.30.0.44:80', destination: '10.180.0.22:80' });
    const s2 = without22();
    await b.sync(nodeView(s2), changesBetween(s1, s2));
    const from = node.calls.length;
    const s3 = fixtureState();
    await b.sync(nodeView(s3), changesBetween(s2, s3));
    expect(node.written('ipvsadm', from)[0]).toBe(['-e -t 172.30.0.44:80 -r 10.180.0.22:80 -m -w 1', '-a -t 192.168.0.2:3004 -r 10.180.0.22:80 -m -w 1', '-a -t 192.168.99.33:80 -r 10.180.0.22:80 -m -w 1', ''].join('\n'));
    expect(b.drainer.draining).toEqual([]);
    expectKernelIs(node, s3);
  });

  it('UDP real servers are deleted at once (expire_nodest_conn ends their flows)', async () => {
    const node = fakeNode();
    const b = backendOn(node);
    const s1 = fixtureState();
    await b.sync(nodeView(s1), undefined);
    const from = node.calls.length;
    const s2 = fixtureState(fixtureObjects().filter((o) => named(o) !== 'svc10' || (o as { kind: string }).kind !== 'EndpointSlice'));
    await b.sync(nodeView(s2), changesBetween(s1, s2));
    expect(node.written('ipvsadm', from)).toEqual(['-d -u 172.30.0.50:53 -r 10.180.0.12:53\n']);
    expect(b.drainer.draining).toEqual([]);
  });

  it('a new process adopts real servers left at weight 0 and drains them', async () => {
    const node = fakeNode();
    const b = backendOn(node);
    const s1 = fixtureState();
    await b.sync(nodeView(s1), undefined);
    node.connections.push({ protocol: 'TCP', state: 'ESTABLISHED', source: '10.1.2.3:40000', virtual: 'TCP/172.30.0.44:80', destination: '10.180.0.22:80' });
    const s2 = without22();
    await b.sync(nodeView(s2), changesBetween(s1, s2));
    const next = backendOn(node);
    await next.sync(nodeView(s2), undefined);
    expect(next.drainer.draining).toEqual(['TCP/172.30.0.44:80/10.180.0.22:80']);
    node.connections.splice(0);
    expect(await next.drain()).toEqual(['TCP/172.30.0.44:80/10.180.0.22:80']);
  });
});

describe('tamper check', () => {
  it('nothing removed: not tampered; without a sync yet: not tampered', async () => {
    const node = fakeNode();
    const b = backendOn(node);
    expect(await b.tampered()).toBe(false);
    await b.sync(nodeView(fixtureState()), undefined);
    expect(await b.tampered()).toBe(false);
    const s2 = fixtureState(fixtureObjectsAfterEndpointChange());
    await b.sync(nodeView(s2), changesBetween(fixtureState(), s2));
    expect(await b.tampered()).toBe(false);
  });

  it.each([
    ['a jump rule removed (nat PREROUTING flushed)', (node: ReturnType<typeof fakeNode>) => node.ipt.ruleset('nft', 'IPv4').apply('*nat\n-F PREROUTING\nCOMMIT\n'), /IPv4 rule gone: PREROUTING .*-j KUBE-SERVICES/],
    ['one of our chains flushed', (node: ReturnType<typeof fakeNode>) => node.ipt.ruleset('nft', 'IPv6').apply('*filter\n-F KUBE-IPVS-FILTER\nCOMMIT\n'), /IPv6 rule gone: KUBE-IPVS-FILTER /],
    ['a set flushed', (node: ReturnType<typeof fakeNode>) => node.sets.get('KUBE-CLUSTER-IP')!.members.clear(), /ipset KUBE-CLUSTER-IP holds 0 members, the last sync left \d+/],
    ['a set destroyed', (node: ReturnType<typeof fakeNode>) => node.sets.delete('KUBE-6-NODE-PORT-TCP'), /ipset KUBE-6-NODE-PORT-TCP gone/],
  ])('%s: tampered, once; the next sync is full and repairs it', async (_what, tamper, why) => {
    const node = fakeNode();
    const log = memoryLogger();
    const b = new IpvsBackend({ logger: log, clusterCIDRs, mode: 'nft', run: node.run });
    const s = fixtureState();
    await b.sync(nodeView(s), undefined);
    tamper(node);
    expect(await b.tampered()).toBe(true);
    expect(log.lines.map((l) => l.msg).join('\n')).toMatch(why);
    expect(await b.tampered()).toBe(false); // reported; the full sync is due
    const stats = await b.sync(nodeView(s), changesBetween(s, s));
    expect(stats.full).toBe(true);
    expect(await b.tampered()).toBe(false);
    expectKernelIs(node, s);
  });
});

describe('cleanup', () => {
  it('removes the virtual servers, kube-ipvs0, our chains and jump rules, and our sets', async () => {
    const node = fakeNode();
    const b = backendOn(node);
    await b.sync(nodeView(fixtureState()), undefined);
    await b.cleanup();
    expect(node.table.services.size).toBe(0);
    expect([...node.sets.keys()]).toEqual([]);
    for (const f of ['IPv4', 'IPv6'] as const) expect(node.ipt.ruleset('nft', f).save()).not.toContain('KUBE-');
    expect(node.calls.some((c) => c.file === 'ip' && c.args === 'link del kube-ipvs0')).toBe(true);
  });
});
