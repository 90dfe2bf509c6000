// The real kernel: full and partial syncs through iptables-restore in a namespace of our
// own, read back with iptables-save; stale chains, rejected input, canary, cleanup, for
// both iptables flavours.
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localChanges, type IPFamily } from '../../model/index.ts';
import { memoryLogger, startRuntime } from '../../runtime/index.ts';
import { RuleApplyError } from '../common/index.ts';
import { IptablesBackend } from './backend.ts';
import { netnsRunner } from './exec.ts';
import { binaries, detectMode, type IptablesMode } from './mode.ts';
import { renderIptables } from './render.ts';
import { Ruleset } from './rules.ts';
import { clusterCIDRs, fixtureObjects, fixtureObjectsAfterEndpointChange, fixtureState, watchRepair } from './testing.ts';
import { noChanges, nodeView } from '../../model/index.ts';
import { changesBetween } from '../../model/testing.ts';

const without = (names: string[]) => fixtureObjects().filter((o) => !names.includes((o as { metadata: { name: string } }).metadata.name));

/** iptables-save without the timestamp comments and counters. */
const normalize = (text: string) =>
  text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/, '[0:0]'))
    .join('\n');

/** Our chains in a saved ruleset: "table/chain: number of rules". */
function ourChains(saved: string): string[] {
  const rs = new Ruleset().apply(saved, { noflush: false, checkTargets: false });
  const out: string[] = [];
  for (const [table, t] of rs.tables) for (const [chain, rules] of t.chains) if (chain.startsWith('KUBE-')) out.push(`${table}/${chain}: ${rules.length}`);
  return out.sort();
}

describe.each(['nft', 'legacy'] as IptablesMode[])('iptables-%s in a namespace', (mode) => {
  const ns = `kpng-ipt-${randomBytes(4).toString('hex')}`;
  const run = netnsRunner(ns);
  const save = async (family: IPFamily = 'IPv4') => {
    const r = await run(binaries(mode, family).save, []);
    expect(r.exitCode, r.stderr).toBe(0);
    return normalize(r.stdout);
  };
  const backend = (extra: Partial<ConstructorParameters<typeof IptablesBackend>[0]> = {}) => new IptablesBackend({ logger: memoryLogger(), clusterCIDRs, mode, run, ...extra });
  /** What the rules must look like: our own model of the kernel after a fresh full sync. */
  const expected = (state: ReturnType<typeof fixtureState>, family: IPFamily) => ourChains(new Ruleset().apply(renderIptables(nodeView(state), { family, clusterCIDRs }).text).save());

  beforeAll(async () => {
    await execa('ip', ['netns', 'add', ns]);
    await execa('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  });
  afterAll(async () => {
    await execa('ip', ['netns', 'del', ns], { reject: false });
  });

  const s1 = fixtureState();
  const s2 = fixtureState(fixtureObjectsAfterEndpointChange());
  const s3 = fixtureState(without(['svc10']));
  const b = backend();

  it('full sync: every chain and rule the renderer meant, in both families; the kernel agrees with our model', async () => {
    const stats = await b.sync(nodeView(s1), undefined);
    expect(stats.full).toBe(true);
    expect(b.ipFamilies).toEqual(['IPv4', 'IPv6']);
    const v4 = await save('IPv4');
    expect(ourChains(v4)).toEqual(expected(s1, 'IPv4'));
    expect(ourChains(await save('IPv6'))).toEqual(expected(s1, 'IPv6'));
    // Jump rules from the built-in chains, as kube-proxy installs them.
    expect(v4).toContain('-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
    expect(v4).toContain('-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES');
    // The kernel's own spelling of a few rules.
    expect(v4).toMatch(/-A KUBE-SEP-SXIVWICOYRO3J4NJ -s 10.180.0.1\/32 -m comment --comment "?ns1\/svc1:p80"? -j KUBE-MARK-MASQ/);
    expect(v4).toMatch(/-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1\/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-SXIVWICOYRO3J4NJ/);
    expect(v4).toMatch(/-A KUBE-SEP-WOIY372CGIPKLSVO -p sctp -m comment --comment "?ns9\/svc9:sctp"? -m sctp -j DNAT --to-destination 10.180.0.11:9999/);
    expect(v4).toContain('-j MASQUERADE --random-fully');
  });

  it('partial sync after an endpoint change: that service port’s chains only, same result as a full sync', async () => {
    const before = ourChains(await save());
    const stats = await b.sync(nodeView(s2), changesBetween(s1, s2));
    expect(stats.full).toBe(false);
    const after = ourChains(await save());
    expect(after).toEqual(expected(s2, 'IPv4'));
    const changed = after.filter((c) => !before.includes(c));
    // svc1's SVC chain grew by a rule, and the new endpoint got its chain; nothing else changed.
    expect(changed).toEqual(['nat/KUBE-SEP-HYIMNMMJAOGRW5AM: 2', 'nat/KUBE-SVC-XPGD46QRK7WJZT7O: 4']);
    expect(before.filter((c) => !after.includes(c))).toEqual(['nat/KUBE-SVC-XPGD46QRK7WJZT7O: 3']);
  });

  it('a removed Service’s chains are deleted', async () => {
    await b.sync(nodeView(s3), changesBetween(s2, s3));
    const v4 = await save();
    expect(v4).not.toContain('KUBE-SVC-QDO3I4N2LY6G2GUJ');
    expect(v4).not.toContain('ns10/svc10');
    expect(ourChains(v4)).toEqual(expected(s3, 'IPv4'));
  });

  it('the kernel rejects an input: the error carries it and its line, the previous rules stay', async () => {
    const bad = '-A KUBE-SERVICES -m kpng-no-such-match -j ACCEPT';
    const poisoned = backend({ transformInput: (_f, text) => text.replace('\n', `\n${bad}\n`) });
    const before = await save();
    const err = await poisoned.sync(nodeView(s1), undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuleApplyError);
    const e = err as RuleApplyError;
    expect(e.code).toBe('KPNG_ERR_IPTABLES_RESTORE');
    expect(e.exitCode).not.toBe(0);
    expect(e.lineText).toBe(bad);
    expect(e.line).toBe(2);
    expect(e.input.startsWith(`*filter\n${bad}\n`)).toBe(true);
    expect(e.stderr).toMatch(/kpng-no-such-match/);
    expect(await save()).toBe(before);
  });

  it('a full sync by a new process neither duplicates jump rules nor keeps stale chains', async () => {
    await backend().sync(nodeView(s1), undefined);
    const v4 = await save();
    expect(v4.match(/-j KUBE-SERVICES$/gm)).toHaveLength(4); // PREROUTING and OUTPUT in nat, FORWARD and OUTPUT in filter
    expect(ourChains(v4)).toEqual(expected(s1, 'IPv4'));
    const fresh = backend();
    await fresh.sync(nodeView(fixtureState(without(['svc4']))), undefined);
    expect(await save()).not.toContain('KUBE-SVC-4SW47YFZTEDKD3PK');
  });

  it('tampered(): the canary deleted from nat means someone flushed our rules; a full sync repairs', async () => {
    const t = backend();
    await t.sync(nodeView(s1), undefined);
    expect(await t.tampered()).toBe(false);
    const ipt = binaries(mode, 'IPv4').iptables;
    for (const args of [['-t', 'nat', '-F', 'KUBE-PROXY-CANARY'], ['-t', 'nat', '-X', 'KUBE-PROXY-CANARY']]) expect((await run(ipt, args)).exitCode).toBe(0);
    expect(await t.tampered()).toBe(true);
    await t.sync(nodeView(s1), undefined);
    expect(await t.tampered()).toBe(false);
  });

  it('tampered(): the nat table flushed, KUBE-SERVICES flushed, a jump rule deleted: each noticed at the next check; a full sync repairs', async () => {
    const t = backend();
    await t.sync(nodeView(s1), undefined);
    // The same rules (a re-inserted jump rule goes first among the jumps, as kube-proxy inserts them).
    const rules = async (family: IPFamily) => (await save(family)).split('\n').sort();
    const want = { v4: await rules('IPv4'), v6: await rules('IPv6') };
    expect(await t.tampered()).toBe(false);
    const ipt = binaries(mode, 'IPv4').iptables;
    const ip6t = binaries(mode, 'IPv6').iptables;
    for (const [bin, args] of [
      [ipt, ['-t', 'nat', '-F']],
      [ip6t, ['-t', 'nat', '-F', 'KUBE-SERVICES']],
      [ipt, ['-t', 'nat', '-F', 'KUBE-POSTROUTING']],
      [ipt, ['-t', 'filter', '-D', 'FORWARD', '-m', 'comment', '--comment', 'kubernetes forwarding rules', '-j', 'KUBE-FORWARD']],
    ] as const) {
      expect((await run(bin, [...args])).exitCode, args.join(' ')).toBe(0);
      expect(await t.tampered(), args.join(' ')).toBe(true);
      expect((await t.sync(nodeView(s1), noChanges())).full).toBe(true);
      expect(await rules('IPv4')).toEqual(want.v4);
      expect(await rules('IPv6')).toEqual(want.v6);
      expect(await t.tampered()).toBe(false);
    }
  });

  it('under the runtime, `iptables -t nat -F` is repaired within a sync period, and /healthz says 503 until it is', async () => {
    let refuse = false; // the first repair is refused, so that the node stays known-wrong for a backoff
    const t = backend({ transformInput: (_f, text) => (refuse ? ((refuse = false), `${text}bogus\n`) : text) });
    const rt = await startRuntime({ backend: t, logger: memoryLogger(), ipFamilies: ['IPv4', 'IPv6'], flags: { 'healthz-bind-address': '127.0.0.1:0', 'metrics-bind-address': '', 'sync-period': 300 }, conntrack: false, processMetrics: false });
    const healthz = async () => (await fetch(`http://${rt.healthzAddress!}/healthz`)).status;
    try {
      await rt.sink.start();
      rt.sink.onLocal(s1, localChanges(undefined, s1));
      await rt.sink.drain();
      const want = await save('IPv4');
      expect(await healthz()).toBe(200);
      refuse = true;
      expect((await run(binaries(mode, 'IPv4').iptables, ['-t', 'nat', '-F'])).exitCode).toBe(0);
      const r = await watchRepair(healthz, async () => !refuse && (await save('IPv4')) === want);
      expect(r.repaired).toBe(true);
      expect(r.codesMeanwhile).toContain(503); // while the rules were known to be wrong
      expect(r.codeAfter).toBe(200);
    } finally {
      await rt.stop();
    }
  });

  it(`the flavour is detected as ${mode} from the rules in place`, async () => {
    await expect(detectMode(run)).resolves.toMatchObject({ mode });
  });

  it('cleanup() removes every chain and jump rule, in both families', async () => {
    await backend().cleanup();
    for (const family of ['IPv4', 'IPv6'] as const) expect(await save(family)).not.toContain('KUBE-');
  });
});
