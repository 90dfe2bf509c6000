// One service port the kernel refuses must not hold the node hostage: the real
// iptables-restore in a namespace of our own refuses it, the backend finds it with
// --test, leaves it out with a warning naming it, and programs every other one.
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalState, ServicePortState } from '../../model/index.ts';
import { memoryLogger } from '../../runtime/log.ts';
import { IptablesBackend } from './backend.ts';
import { netnsRunner } from './exec.ts';
import { binaries, type IptablesMode } from './mode.ts';
import { renderIptables } from './render.ts';
import { Ruleset } from './rules.ts';
import { clusterCIDRs, fixtureObjectsAfterEndpointChange, fixtureState } from './testing.ts';
import { nodeView } from '../../model/index.ts';
import { changesBetween } from '../../model/testing.ts';

/** Our chains in a saved ruleset: "table/chain: number of rules". */
function ourChains(saved: string): string[] {
  const rs = new Ruleset().apply(saved, { noflush: false, checkTargets: false });
  const out: string[] = [];
  for (const [table, t] of rs.tables) for (const [chain, rules] of t.chains) if (chain.startsWith('KUBE-')) out.push(`${table}/${chain}: ${rules.length}`);
  return out.sort();
}

/** A copy of one of the fixture's service ports under another name and cluster IP, its endpoints changed by `endpoint`. */
function variant(of: ServicePortState, namespace: string, clusterIP: string, endpoint: (e: ServicePortState['clusterEndpoints'][number]) => object): ServicePortState {
  const eps = of.clusterEndpoints.map((e) => ({ ...e, ...endpoint(e) }));
  return { ...of, key: `${namespace}/svc:p`, serviceKey: `${namespace}/svc`, namespace, name: 'svc', portName: 'p', clusterIPs: [clusterIP], internalEndpoints: eps, clusterEndpoints: eps, externalEndpoints: [] };
}

const plus = (state: LocalState, ...ports: ServicePortState[]): LocalState => ({ node: state.node, servicePorts: new Map([...state.servicePorts, ...ports.map((p) => [p.key, p] as const)]) });

describe.each(['nft', 'legacy'] as IptablesMode[])('iptables-%s: a service port the kernel refuses is left out, the rest programmed', (mode) => {
  const ns = `kpng-ref-${randomBytes(4).toString('hex')}`;
  const run = netnsRunner(ns);
  beforeAll(async () => {
    await execa('ip', ['netns', 'add', ns]);
    await execa('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  });
  afterAll(async () => {
    await execa('ip', ['netns', 'del', ns], { reject: false });
  });
  const save = async () => {
    const r = await run(binaries(mode, 'IPv4').save, []);
    expect(r.exitCode, r.stderr).toBe(0);
    return r.stdout;
  };
  const expected = (state: LocalState) => ourChains(new Ruleset().apply(renderIptables(nodeView(state), { family: 'IPv4', clusterCIDRs }).text).save());

  const good = fixtureState();
  const svc10 = good.servicePorts.get('ns10/svc10')!;
  // A port the kernel refuses (no port 70000), and one whose endpoint is no IP: the model makes neither.
  const refused = variant(svc10, 'refused', '172.30.0.98', () => ({ port: 70000 }));
  const notIP = variant(svc10, 'not-ip', '172.30.0.99', () => ({ address: '10.180.0.12 -j DROP' }));

  it('full sync: the good Services are in the kernel, the bad ones named in a warning and left out', async () => {
    const logger = memoryLogger();
    const b = new IptablesBackend({ logger, clusterCIDRs, mode, run, families: ['IPv4'] });
    const s1 = plus(good, refused, notIP);
    const stats = await b.sync(nodeView(s1), undefined);
    expect(stats).toMatchObject({ full: true, leftOut: ['not-ip/svc:p', 'refused/svc:p'], refusedTransactions: 1 });
    const saved = await save();
    expect(ourChains(saved)).toEqual(expected(good));
    expect(saved).not.toContain('172.30.0.98');
    expect(saved).not.toContain('172.30.0.99');
    const warnings = logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
    expect(warnings).toContainEqual(expect.stringMatching(/^KPNG_ERR_SERVICE_PORT_REFUSED: left out service port "refused\/svc:p": iptables-restore refused its rules: IPv4: .*70000/));
    expect(warnings).toContainEqual(expect.stringMatching(/^KPNG_ERR_SERVICE_PORT_REFUSED: left out service port "not-ip\/svc:p": internalEndpoints: "10.180.0.12 -j DROP" is not an IPv4 address/));

    // Later syncs leave them out without asking the kernel again, and go on being partial.
    const s2 = plus(fixtureState(fixtureObjectsAfterEndpointChange()), refused, notIP);
    const next = await b.sync(nodeView(s2), changesBetween(s1, s2));
    expect(next).toMatchObject({ full: false, leftOut: ['not-ip/svc:p', 'refused/svc:p'] });
    expect(next.refusedTransactions).toBeUndefined();
    expect(ourChains(await save())).toEqual(expected(fixtureState(fixtureObjectsAfterEndpointChange())));

    // Once fixed, a port is programmed again.
    const fixed = variant(svc10, 'refused', '172.30.0.98', () => ({}));
    const s3 = plus(fixtureState(fixtureObjectsAfterEndpointChange()), fixed, notIP);
    const last = await b.sync(nodeView(s3), changesBetween(s2, s3));
    expect(last.leftOut).toEqual(['not-ip/svc:p']);
    expect(await save()).toMatch(/-d 172\.30\.0\.98\/32 .*--dport 53/);
  });

  it('a refusal that is no service port’s doing still fails the sync, and the rules in place stay', async () => {
    const before = ourChains(await save());
    const b = new IptablesBackend({ logger: memoryLogger(), clusterCIDRs, mode, run, families: ['IPv4'], transformInput: (_f, text) => text.replace('COMMIT', '-A KUBE-SERVICES -m kpng-no-such-match -j ACCEPT\nCOMMIT') });
    await expect(b.sync(nodeView(good), undefined)).rejects.toThrow(/KPNG_ERR_IPTABLES_RESTORE/);
    expect(ourChains(await save())).toEqual(before);
  });
});
