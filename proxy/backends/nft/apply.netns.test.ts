// The real kernel: full and partial syncs through `nft -f -` in namespaces of our own,
// read back with `nft list`; a transaction the kernel rejects, tables deleted or altered
// by someone else, cleanup, and the `kpng ... to-nft` process itself.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { projectNode } from '../../../harness/lab/netns/index.ts';
import { useTopology } from '../../../harness/lab/netns/testing.ts';
import { localChanges, type LocalState } from '../../model/index.ts';
import { service, slice } from '../../model/testing.ts';
import { memoryLogger, startRuntime } from '../../runtime/index.ts';
import { RuleApplyError, netnsRunner } from '../common/index.ts';
import { clusterCIDRs, fixtureObjects, fixtureObjectsAfterEndpointChange, fixtureState, nodeName, watchRepair } from '../common/testing.ts';
import { NftBackend, type NftBackendOptions } from './backend.ts';
import { nftBackend } from './index.ts';
import type { FamilyView } from './transaction.ts';
import { nodeView } from '../../model/index.ts';
import { changesBetween } from '../../model/testing.ts';

const lab = useTopology({ family: 'dual', nodes: ['node-a', 'node-b'] });
const ns = (name: 'node-a' | 'node-b') => lab().node(name);

const nft = async (name: 'node-a' | 'node-b', ...args: string[]) => {
  const r = await ns(name).run('nft', args);
  return r.exitCode === 0 ? r.stdout : undefined;
};

interface Block {
  kind: 'chain' | 'set' | 'map';
  name: string;
  /** The lines between the braces, trimmed. */
  lines: string[];
}

/** The chains, sets and maps of a `nft list table`. */
function blocksOf(listing: string): Block[] {
  const out: Block[] = [];
  let depth = 0;
  let current: Block | undefined;
  for (const raw of listing.split('\n')) {
    const line = raw.trim();
    const m = /^(chain|set|map) (\S+) \{/.exec(line);
    const before = depth;
    depth += (line.match(/\{/g) ?? []).length - (line.match(/\}/g) ?? []).length;
    if (before === 1 && m) current = { kind: m[1] as Block['kind'], name: m[2]!, lines: [] };
    else if (current && depth >= 1 && !(depth === 1 && line === '}')) current.lines.push(line);
    if (current && depth === 1) {
      out.push(current);
      current = undefined;
    }
  }
  return out;
}

const elementsOf = (b: Block) => {
  const m = /elements = \{ (.*) \}/.exec(b.lines.join(' '));
  return m ? m[1]!.split(/,\s+/) : [];
};

/** A `nft list table` as a sorted list of its objects, each with its elements sorted: equal for equal tables. */
function normalForm(listing: string): string[] {
  return blocksOf(listing)
    .map((b) => `${b.kind} ${b.name} { ${b.lines.join(' ').replace(/elements = \{ .* \}/, '')} ${elementsOf(b).sort().join(', ')} }`)
    .sort();
}

/** Per chain its rules, per set and map its elements, from a listing. */
function summary(listing: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const b of blocksOf(listing)) {
    if (b.kind === 'chain') out[`chain ${b.name}`] = b.lines.filter((l) => !l.startsWith('type ') && !l.startsWith('comment ')).length;
    else out[`set ${b.name}`] = elementsOf(b).length;
  }
  return out;
}

/** What the backend believes: per chain its rules, per set its elements. */
function believed(view: FamilyView): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of [view.global, ...view.ports.values()]) {
    for (const c of p.chains) out[`chain ${c.name}`] = c.rules.length;
    for (const c of p.containers) out[`set ${c.name}`] = 0;
  }
  for (const [id] of view.elements.all()) {
    const set = `set ${id.split('\u0000')[0]!}`;
    out[set] = (out[set] ?? 0) + 1;
  }
  for (const name of view.stale.keys()) out[`chain ${name}`] = 0;
  return out;
}

const backend = (name: 'node-a' | 'node-b', extra: Partial<NftBackendOptions> = {}) =>
  new NftBackend({ logger: memoryLogger(), clusterCIDRs, run: netnsRunner(ns(name).netns), ...extra });

const without = (names: string[]) => fixtureObjects().filter((o) => !names.includes((o as { metadata: { name: string } }).metadata.name));
const listTable = (name: 'node-a' | 'node-b', family: 'ip' | 'ip6' = 'ip') => nft(name, 'list', 'table', family, 'kpng');
const freshIn = async (state: LocalState) => {
  const b = backend('node-b');
  await b.sync(nodeView(state), undefined);
  b.dispose();
  return { v4: normalForm((await listTable('node-b'))!), v6: normalForm((await listTable('node-b', 'ip6'))!) };
};

describe('nftables in a namespace', () => {
  const s1 = fixtureState();
  const s2 = fixtureState(fixtureObjectsAfterEndpointChange());
  let b: NftBackend;

  it('full sync: the kernel holds every chain, rule, set and element the backend meant, in both tables', async () => {
    b = backend('node-a', { staleChainDelayMs: 300 });
    const stats = await b.sync(nodeView(s1), undefined);
    expect(stats).toMatchObject({ full: true, mode: 'replace' });
    for (const [family, f] of [['IPv4', 'ip'], ['IPv6', 'ip6']] as const) {
      const listing = (await listTable('node-a', f))!;
      expect(summary(listing), family).toEqual(believed(b.views!.get(family)!));
    }
    const v4 = (await listTable('node-a'))!;
    // The kernel's own spelling of a few rules.
    expect(v4).toContain('ip daddr . meta l4proto . th dport vmap @service-ips');
    expect(v4).toContain('numgen random mod 3 0 meta l4proto tcp dnat to 10.180.0.20:80');
    expect(v4).toContain('ip saddr . ip daddr @hairpin-endpoints meta mark set meta mark | 0x00004000');
    expect(v4).toContain('meta l4proto sctp dnat to 10.180.0.11:9999');
    expect(v4).toContain('meta mark set meta mark | 0x00004000');
    expect(v4).toContain('masquerade fully-random');
    expect(v4).toMatch(/172\.30\.0\.46 \. tcp \. 80 comment "ns6\/svc6:p80" : goto reject-chain/);
    expect(v4).toMatch(/set affinity-WLGLN4N3-ns5\/svc5\/tcp\/p80__10\.180\.0\.6\/80 \{\s+type ipv4_addr\s+size 65535\s+flags dynamic,timeout\s+timeout 3h/);
    expect((await listTable('node-a', 'ip6'))!).toContain('meta l4proto tcp dnat to [fd00:180::1]:80');
  });

  it('a Service of more endpoints than the rules pick takes kube-proxy’s layout (an anonymous map, endpoint chains), and the kernel takes it', async () => {
    const many = Array.from({ length: 20 }, (_, i) => `10.181.0.${i + 1}`);
    const state = fixtureState([...fixtureObjects(), service('big', { namespace: 'ns20', clusterIPs: ['172.30.1.1'], ports: [{ name: 'p', port: 80 }], affinity: 60 }), slice('big', 'big', many, { namespace: 'ns20', ports: [{ name: 'p', port: 80 }] })]);
    const big = backend('node-b');
    await big.sync(nodeView(state), undefined);
    big.dispose();
    const listing = (await listTable('node-b'))!;
    expect(summary(listing)).toEqual(believed(big.views!.get('IPv4')!));
    expect(listing).toMatch(/numgen random mod 20 vmap \{ 0 : goto endpoint-\S+ns20\/big\/tcp\/p__10\.181\.0\.1\/80, 1 : goto /);
    expect(listing).toContain('meta l4proto tcp update @affinity-');
  });

  it('partial sync after an endpoint change: only svc1’s service chain and @hairpin-endpoints change; same table as a fresh full sync', async () => {
    const before = (await nft('node-a', '-a', 'list', 'table', 'ip', 'kpng'))!;
    const stats = await b.sync(nodeView(s2), changesBetween(s1, s2));
    expect(stats).toMatchObject({ full: false, mode: 'partial', lines: 6 });
    const after = (await nft('node-a', '-a', 'list', 'table', 'ip', 'kpng'))!;
    const changed = normalForm(after).filter((x) => !normalForm(before).includes(x)).map((x) => x.split(' ').slice(0, 2).join(' '));
    expect(changed).toEqual(['chain service-ULMVA6XW-ns1/svc1/tcp/p80', 'set hairpin-endpoints']);
    expect(normalForm(before).filter((x) => !normalForm(after).includes(x))).toHaveLength(2);
    const fresh = await freshIn(s2);
    expect(normalForm((await listTable('node-a'))!)).toEqual(fresh.v4);
    expect(normalForm((await listTable('node-a', 'ip6'))!)).toEqual(fresh.v6);
  });

  it('a removed Service’s chains are flushed at once and deleted ≥ 300 ms later; then the table equals a fresh one', async () => {
    const s3 = fixtureState(without(['svc10']));
    await b.sync(nodeView(s3), changesBetween(s2, s3));
    const flushed = (await nft('node-a', 'list', 'chain', 'ip', 'kpng', 'service-4C6A7Y5F-ns10/svc10/udp/'))!;
    expect(flushed).not.toContain('goto');
    expect(await listTable('node-a')).not.toContain('172.30.0.50');
    // The backend's timer deletes them once they are stale long enough.
    for (let i = 0; i < 50 && (await nft('node-a', 'list', 'chain', 'ip', 'kpng', 'service-4C6A7Y5F-ns10/svc10/udp/')) !== undefined; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await nft('node-a', 'list', 'chain', 'ip', 'kpng', 'service-4C6A7Y5F-ns10/svc10/udp/')).toBeUndefined();
    expect(normalForm((await listTable('node-a'))!)).toEqual((await freshIn(s3)).v4);
    b.dispose();
  });

  it('the kernel rejects a transaction: the error carries it, the previous ruleset stays, the failure is counted, the next sync is full', async () => {
    let poison = true;
    const bad = 'delete element ip kpng service-ips { 10.99.99.99 . tcp . 1 }';
    const p = backend('node-a', { transformTransaction: (text) => (poison ? `${text}${bad}\n` : text) });
    await p.sync(nodeView(s1), undefined).catch(() => undefined); // a replace: rejected too
    poison = false;
    await p.sync(nodeView(s1), undefined);
    const before = normalForm((await listTable('node-a'))!);
    poison = true;
    const err = await p.sync(nodeView(s2), changesBetween(s1, s2)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuleApplyError);
    const e = err as RuleApplyError;
    expect(e.code).toBe('KPNG_ERR_NFT_TRANSACTION');
    expect(e.stderr).toMatch(/Error: Could not process rule: No such file or directory/);
    expect(e.lineText).toBe(bad);
    expect(e.input.endsWith(`${bad}\n`)).toBe(true);
    expect(e.input).toContain('flush chain ip kpng service-ULMVA6XW-ns1/svc1/tcp/p80');
    expect(normalForm((await listTable('node-a'))!)).toEqual(before);
    poison = false;
    const next = await p.sync(nodeView(s2), changesBetween(s1, s2));
    expect(next).toMatchObject({ full: true, mode: 'replace' });
    expect(normalForm((await listTable('node-a'))!)).toEqual((await freshIn(s2)).v4);
    p.dispose();
  });

  it('under the runtime: a rejected sync counts in kubeproxy_sync_proxy_rules_nftables_sync_failures_total and is retried in full', async () => {
    let poison = true;
    const p = backend('node-a', { transformTransaction: (text) => (poison ? `${text}delete element ip kpng service-ips { 10.99.99.99 . tcp . 1 }\n` : text) });
    const rt = await startRuntime({ backend: p, descriptor: nftBackend, logger: memoryLogger(), flags: { 'healthz-bind-address': '', 'metrics-bind-address': '127.0.0.1:0' }, conntrack: false, processMetrics: false, ipFamilies: ['IPv4', 'IPv6'] });
    const metric = async (name: string) => {
      const body = await (await fetch(`http://${rt.metricsAddress}/metrics`)).text();
      return Number(new RegExp(`^${name}\\{ip_family="IPv4"\\} (\\S+)$`, 'm').exec(body)?.[1]);
    };
    try {
      await rt.sink.start();
      rt.sink.onLocal(s1, localChanges(undefined, s1));
      await expect(rt.sink.drain()).rejects.toThrow(/KPNG_ERR_SYNC_FAILED: the nftables backend failed .*KPNG_ERR_NFT_TRANSACTION/);
      expect(await metric('kubeproxy_sync_proxy_rules_nftables_sync_failures_total')).toBe(1);
      poison = false;
      for (let i = 0; i < 60 && (await metric('kubeproxy_sync_full_proxy_rules_duration_seconds_count')) < 1; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await metric('kubeproxy_sync_full_proxy_rules_duration_seconds_count')).toBe(1);
      expect((await (await fetch(`http://${rt.metricsAddress}/proxyMode`)).text())).toBe('nftables');
    } finally {
      await rt.stop();
      p.dispose();
    }
  });

  it('someone deletes the table, or alters a chain: tampered() notices, the next sync repairs', async () => {
    const t = backend('node-a');
    await t.sync(nodeView(s1), undefined);
    // Untouched, every fixed chain listed in turn (after the first check learnt them from the tables' listings): nothing to see.
    const chains = [...t.views!.values()].reduce((n, v) => n + v.global.chains.length, 0);
    for (let i = 0; i <= chains; i++) expect(await t.tampered()).toBe(false);
    await ns('node-a').exec('nft', ['delete', 'table', 'ip', 'kpng']);
    expect(await t.tampered()).toBe(true);
    await t.sync(nodeView(s1), undefined);
    expect(normalForm((await listTable('node-a'))!)).toEqual((await freshIn(s1)).v4);
    expect(await t.tampered()).toBe(false);

    // Flushed by someone: a map, a set, a fixed chain, every chain of a table. Noticed at the next check.
    for (const flush of ['flush map ip kpng service-ips', 'flush set ip6 kpng cluster-ips', 'flush chain ip kpng services', 'flush table ip6 kpng']) {
      await ns('node-a').exec('nft', flush.split(' '));
      expect(await t.tampered(), flush).toBe(true);
      await t.sync(nodeView(s1), undefined);
      const fresh = await freshIn(s1);
      expect(normalForm((await listTable('node-a'))!), flush).toEqual(fresh.v4);
      expect(normalForm((await listTable('node-a', 'ip6'))!), flush).toEqual(fresh.v6);
      expect(await t.tampered()).toBe(false);
    }

    // A rule added to a fixed chain: a check lists one fixed chain in full, in turn.
    await ns('node-a').exec('nft', ['insert', 'rule', 'ip6', 'kpng', 'services', 'drop']);
    let noticed = false;
    for (let i = 0; i < chains && !noticed; i++) noticed = await t.tampered();
    expect(noticed).toBe(true);
    await t.sync(nodeView(s1), undefined);
    expect(await nft('node-a', 'list', 'chain', 'ip6', 'kpng', 'services')).not.toContain('drop');
    expect(await t.tampered()).toBe(false);

    const listing = (await nft('node-a', '-a', 'list', 'chain', 'ip', 'kpng', 'masquerading'))!;
    const handle = /masquerade fully-random # handle (\d+)/.exec(listing)![1]!;
    await ns('node-a').exec('nft', ['delete', 'rule', 'ip', 'kpng', 'masquerading', 'handle', handle]);
    expect(await t.tampered()).toBe(true);
    await t.sync(nodeView(s1), undefined);
    expect(await nft('node-a', 'list', 'chain', 'ip', 'kpng', 'masquerading')).toContain('masquerade fully-random');
    t.dispose();
  });

  it('under the runtime, a flushed map is back within a sync period, and /healthz says 503 until it is', async () => {
    // The first repair is refused once, so that the node stays known-wrong for a backoff.
    let refuse = false;
    const t = backend('node-a', { transformTransaction: (text) => (refuse ? ((refuse = false), `${text}bogus\n`) : text) });
    const rt = await startRuntime({ backend: t, logger: memoryLogger(), flags: { 'healthz-bind-address': '127.0.0.1:0', 'metrics-bind-address': '', 'sync-period': 300 }, conntrack: false, processMetrics: false });
    const healthz = async () => (await fetch(`http://${rt.healthzAddress!}/healthz`)).status;
    try {
      await rt.sink.start();
      rt.sink.onLocal(s1, localChanges(undefined, s1));
      await rt.sink.drain();
      const want = normalForm((await listTable('node-a'))!);
      expect(await healthz()).toBe(200);
      refuse = true;
      await ns('node-a').exec('nft', ['flush', 'map', 'ip', 'kpng', 'service-ips']);
      const r = await watchRepair(healthz, async () => !refuse && JSON.stringify(normalForm((await listTable('node-a'))!)) === JSON.stringify(want));
      expect(r.repaired).toBe(true);
      expect(r.codesMeanwhile).toContain(503); // while the rules were known to be wrong
      expect(r.codeAfter).toBe(200);
    } finally {
      await rt.stop();
      t.dispose();
    }
  });

  it('under the runtime, a deleted table is back within a sync period or two', async () => {
    const t = backend('node-a');
    const rt = await startRuntime({ backend: t, logger: memoryLogger(), flags: { 'healthz-bind-address': '', 'metrics-bind-address': '', 'sync-period': 300 }, conntrack: false, processMetrics: false });
    try {
      await rt.sink.start();
      rt.sink.onLocal(s1, localChanges(undefined, s1));
      await rt.sink.drain();
      await ns('node-a').exec('nft', ['delete', 'table', 'ip', 'kpng']);
      // Until the whole table is back (a listing may fall between the repair's steps on a loaded machine).
      const want = (await freshIn(s1)).v4;
      let back: string | undefined;
      for (let i = 0; i < 100 && (back === undefined || JSON.stringify(normalForm(back)) !== JSON.stringify(want)); i++) {
        await new Promise((r) => setTimeout(r, 100));
        back = await listTable('node-a');
      }
      expect(back).toBeDefined();
      expect(normalForm(back!)).toEqual(want);
    } finally {
      await rt.stop();
      t.dispose();
    }
  });

  it('cleanup() deletes both tables and nothing else (kube-proxy’s own table stays)', async () => {
    await ns('node-a').exec('nft', ['-f', '-'], { input: 'add table ip kube-proxy\nadd chain ip kube-proxy services\n' });
    await backend('node-a').cleanup();
    const tables = (await nft('node-a', 'list', 'tables'))!;
    expect(tables).not.toMatch(/kpng/);
    expect(tables).toContain('table ip kube-proxy');
    await backend('node-a').cleanup(); // nothing left: still fine
    await ns('node-a').exec('nft', ['delete', 'table', 'ip', 'kube-proxy']);
  });

  it('the kpng process: rules stay when it exits; `kpng to-nft --cleanup` removes them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpng-nft-'));
    const input = join(dir, 'cluster.yaml');
    writeFileSync(input, fixtureObjects().map((o) => stringify(o)).join('---\n'));
    const cli = fileURLToPath(new URL('../../cli.ts', import.meta.url));
    const kpng = (...args: string[]) => ns('node-a').run(projectNode(), ['--disable-warning=ExperimentalWarning', cli, ...args], { timeoutMs: 60_000 });
    const r = await kpng('file', `--input=${input}`, '--once', 'to-local', `--node-name=${nodeName}`, 'to-nft', `--cluster-cidr=${clusterCIDRs.join(',')}`, '--healthz-bind-address=', '--metrics-bind-address=');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/kpng\/nft: synced mode=replace/);
    const fresh = await freshIn(s1);
    expect(normalForm((await listTable('node-a'))!)).toEqual(fresh.v4);
    expect(normalForm((await listTable('node-a', 'ip6'))!)).toEqual(fresh.v6);
    const c = await kpng('to-nft', '--cleanup');
    expect(c.exitCode, c.stderr).toBe(0);
    expect(await nft('node-a', 'list', 'tables')).not.toMatch(/kpng/);
  });
});
