// The real kernel, as far as this one allows: it has no IPVS (no ip_vs module: ipvsadm
// cannot even start, `ipvsadm -R` included) and no dummy interfaces. In a namespace of our
// own, the backend applies the ipsets, the iptables rules and the kube-ipvs0 addresses for
// real (kube-ipvs0 made beforehand as a bridge, which holds addresses as a dummy does),
// while its ipvsadm calls are served by the IpvsTable model. The kernel's sets, rules and
// addresses must equal the rendered ones, and real connections show the filter rules at
// work. The one rule the kernel cannot load without ip_vs (`-m ipvs`, the node's access to
// a load balancer IP whose source ranges leave it out) is taken out and counted.
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeView, type IPFamily } from '../../model/index.ts';
import { changesBetween } from '../../model/testing.ts';
import { memoryLogger } from '../../runtime/index.ts';
import { netnsRunner } from '../common/index.ts';
import { binaries, type IptablesMode } from '../iptables/mode.ts';
import { Ruleset } from '../iptables/rules.ts';
import { IpvsBackend } from './backend.ts';
import { parseIpsetSave } from './ipset.ts';
import { renderFamily } from './render.ts';
import { clusterCIDRs, fixtureObjectsAfterEndpointChange, fixtureOptions, fixtureState, ipvsModelRunner, nodeIPv4, nodeIPv6 } from './testing.ts';

/** Our chains in saved or restore text: "table/chain: number of rules". */
function ourChains(text: string): string[] {
  const rs = new Ruleset().apply(text, { noflush: false, checkTargets: false });
  const out: string[] = [];
  for (const [table, t] of rs.tables) for (const [chain, rules] of t.chains) if (chain.startsWith('KUBE-')) out.push(`${table}/${chain}: ${rules.length}`);
  return out.sort();
}

const ipvsMatch = / -m ipvs /;

describe.each(['nft', 'legacy'] as IptablesMode[])('ipsets and iptables-%s of ipvs mode in a namespace', (mode) => {
  const ns = `kpng-ipvs-${randomBytes(4).toString('hex')}`;
  const nsRun = netnsRunner(ns);
  const model = ipvsModelRunner(nsRun);
  const takenOut: string[] = [];
  const backend = () =>
    new IpvsBackend({
      logger: memoryLogger(),
      clusterCIDRs,
      mode,
      run: model.run,
      transformInput: (tool, _f, text) => {
        if (tool !== 'iptables') return text;
        const lines = text.split('\n');
        takenOut.push(...lines.filter((l) => ipvsMatch.test(l)));
        return lines.filter((l) => !ipvsMatch.test(l)).join('\n');
      },
    });
  const sh = (...args: string[]) => execa('ip', ['netns', 'exec', ns, ...args]);

  beforeAll(async () => {
    await execa('ip', ['netns', 'add', ns]);
    await sh('ip', 'link', 'set', 'lo', 'up');
    await sh('ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1');
    await sh('ip', 'addr', 'add', `${nodeIPv4}/24`, 'dev', 'eth0');
    await sh('ip', 'addr', 'add', `${nodeIPv6}/64`, 'dev', 'eth0', 'nodad');
    await sh('ip', 'link', 'set', 'eth0', 'up');
    await sh('ip', 'link', 'set', 'eth1', 'up');
    await sh('ip', 'link', 'add', 'kube-ipvs0', 'type', 'bridge');
  });
  afterAll(async () => {
    await execa('ip', ['netns', 'del', ns], { reject: false });
  });

  const s1 = fixtureState();
  const b = backend();
  const rendered = (f: IPFamily, state = s1) => renderFamily(nodeView(state), fixtureOptions(f));

  it('ipvsadm cannot run on this kernel: the IPVS part is served by the model', async () => {
    const r = await nsRun('ipvsadm', ['-S', '-n']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/Can't initialize ipvs|Protocol not available/);
  });

  it('full sync: the kernel holds exactly the rendered sets, rules and kube-ipvs0 addresses, in both families', async () => {
    const stats = await b.sync(nodeView(s1), undefined);
    expect(stats.full).toBe(true);
    const saved = parseIpsetSave((await nsRun('ipset', ['save'])).stdout);
    for (const f of ['IPv4', 'IPv6'] as const) {
      const r = rendered(f);
      for (const [name, members] of r.plan.sets) {
        expect(saved.get(name), name).toBeDefined();
        expect([...saved.get(name)!.members].sort(), name).toEqual([...members].sort());
      }
      const save = await nsRun(binaries(mode, f).save, []);
      const want = r.iptables.split('\n').filter((l) => !ipvsMatch.test(l)).join('\n');
      expect(ourChains(save.stdout)).toEqual(ourChains(want));
      const addr = await nsRun('ip', ['-j', f === 'IPv6' ? '-6' : '-4', 'addr', 'show', 'dev', 'kube-ipvs0']);
      const bound = (JSON.parse(addr.stdout) as Array<{ addr_info: Array<{ local: string }> }>).flatMap((l) => l.addr_info.map((a) => a.local));
      expect(bound.sort()).toEqual([...r.plan.bind].sort());
      expect(model.table.save().split('\n').filter((l) => l !== '' && l.includes('[') === (f === 'IPv6'))).toEqual(r.ipvsadm.split('\n').filter(Boolean));
    }
    // Only the node's access to svc5's IPv6 load balancer IP needed the ipvs match.
    expect(takenOut).toEqual(['-A KUBE-IPVS-OUT-FILTER -s 2001:db8:99::8 -m ipvs --vaddr 2001:db8:99::8 --vproto tcp --vport 80 -j DROP']);
  });

  /** Connects to each address and port from the namespace, with listeners on ports 80 and 8022 of the host. */
  const probe = async (targets: Array<[string, number]>): Promise<string[]> => {
    const script = `
import socket
srv = []
for port in (80, 8022):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', port)); s.listen(8); srv.append(s)
def probe(ip, port):
    c = socket.socket(); c.settimeout(2)
    try:
        c.connect((ip, port)); return 'open'
    except ConnectionRefusedError: return 'refused'
    except OSError as e: return 'error ' + str(e)
    finally: c.close()
for ip, port in ${JSON.stringify(targets)}:
    print(ip, port, probe(ip, port))
`;
    return (await sh('python3', '-c', script)).stdout.trim().split('\n');
  };

  it('real connections: a service address answers on its service port only; a port without endpoints is rejected', async () => {
    const out = await probe([['172.30.0.41', 80], ['172.30.0.41', 8022], ['172.30.0.46', 80], [nodeIPv4, 8022]]);
    // Without IPVS nothing takes the packet on 172.30.0.41:80: the listener does, which shows the filter let it through.
    expect(out).toEqual(['172.30.0.41 80 open', '172.30.0.41 8022 refused', '172.30.0.46 80 refused', `${nodeIPv4} 8022 open`]);
    const counters = (await nsRun(binaries(mode, 'IPv4').iptables, ['-t', 'filter', '-L', 'KUBE-IPVS-OUT-FILTER', '-v', '-n', '-x'])).stdout;
    const noEndpoints = counters.split('\n').find((l) => l.includes('KUBE-NO-ENDPOINTS'))!;
    expect(Number(noEndpoints.trim().split(/\s+/)[0])).toBeGreaterThan(0);
  });

  it('partial sync after an endpoint change writes one real server line and no set member, rule or address', async () => {
    const s2 = fixtureState(fixtureObjectsAfterEndpointChange());
    const before = (await nsRun('ipset', ['save'])).stdout;
    const writes = model.inputs.length;
    const stats = await b.sync(nodeView(s2), changesBetween(s1, s2));
    expect(stats.full).toBe(false);
    expect(model.inputs.slice(writes)).toEqual(['-a -t 172.30.0.41:80 -r 10.180.0.13:80 -m -w 1\n']);
    expect((await nsRun('ipset', ['save'])).stdout).toBe(before);
  });

  it('tamper check: a chain flushed (traffic to a service address reaches a host port again), a jump rule or a set member removed is noticed; the next sync is full and repairs it', async () => {
    const s2 = fixtureState(fixtureObjectsAfterEndpointChange());
    const v4 = binaries(mode, 'IPv4');
    const v6 = binaries(mode, 'IPv6');
    expect(await b.tampered()).toBe(false);
    const repaired = async () => {
      expect(await b.tampered()).toBe(true);
      const stats = await b.sync(nodeView(s2), changesBetween(s2, s2));
      expect(stats.full).toBe(true);
      expect(await b.tampered()).toBe(false);
    };

    await sh(v4.iptables, '-t', 'filter', '-F', 'KUBE-IPVS-FILTER');
    expect(await probe([['172.30.0.41', 8022]])).toEqual(['172.30.0.41 8022 open']);
    await repaired();
    expect(await probe([['172.30.0.41', 8022]])).toEqual(['172.30.0.41 8022 refused']);

    await sh(v6.iptables, '-t', 'nat', '-F', 'PREROUTING');
    await repaired();
    expect((await sh(v6.iptables, '-t', 'nat', '-S', 'PREROUTING')).stdout).toContain('-j KUBE-SERVICES');

    const members = async () => parseIpsetSave((await nsRun('ipset', ['save'])).stdout).get('KUBE-6-CLUSTER-IP')!.members;
    const before = [...(await members())].sort();
    await sh('ipset', 'flush', 'KUBE-6-CLUSTER-IP');
    await repaired();
    expect([...(await members())].sort()).toEqual(before);
    expect(before.length).toBeGreaterThan(0);
  });

  it('cleanup removes our sets, chains, jump rules and kube-ipvs0', async () => {
    await backend().cleanup();
    const sets = (await nsRun('ipset', ['list', '-n'])).stdout;
    expect(sets).not.toContain('KUBE-');
    for (const f of ['IPv4', 'IPv6'] as const) expect((await nsRun(binaries(mode, f).save, [])).stdout).not.toContain('KUBE-');
    expect((await nsRun('ip', ['link', 'show', 'kube-ipvs0'])).exitCode).not.toBe(0);
    await sh('ip', 'link', 'add', 'kube-ipvs0', 'type', 'bridge');
  });
});
