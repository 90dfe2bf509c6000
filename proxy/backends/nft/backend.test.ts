import { describe, expect, it } from 'vitest';
import { node, service, slice } from '../../model/testing.ts';
import { memoryLogger } from '../../runtime/log.ts';
import { RuleApplyError } from '../common/index.ts';
import { clusterCIDRs, fixtureObjects, fixtureObjectsAfterEndpointChange, fixtureState, nodeName } from '../common/testing.ts';
import { NftBackend, type NftBackendOptions } from './backend.ts';
import { createNftBackend, nftBackend } from './index.ts';
import { FakeNft } from './testing.ts';
import { planReplace } from './transaction.ts';
import { nodeView } from '../../model/index.ts';
import { changesBetween } from '../../model/testing.ts';

function setup(opts: Partial<NftBackendOptions> = {}, kernel = new FakeNft(), runner: { addresses?: string[]; missing?: string[] } = {}) {
  const calls: string[] = [];
  const logger = memoryLogger();
  // A clock of our own: stale chains become deletable when the test says so (the backend's timer is far off in real time).
  const clock = { t: 1_000_000 };
  const backend = new NftBackend({ logger, clusterCIDRs, run: kernel.runner({ ...runner, calls }), staleChainDelayMs: 60_000, now: () => clock.t, ...opts });
  return { backend, kernel, calls, logger, clock };
}

const without = (names: string[]) => fixtureObjects().filter((o) => !names.includes((o as { metadata: { name: string } }).metadata.name));
const freshDump = (state: ReturnType<typeof fixtureState>, family: 'ip' | 'ip6') => {
  const k = new FakeNft();
  k.apply(planReplace(nodeView(state), ['IPv4', 'IPv6'], { clusterCIDRs }).plan.text);
  return k.dump(family);
};

describe('NftBackend against a pretend node', () => {
  it('replaces the tables first, then sends only what changed, one transaction a sync', async () => {
    const { backend, kernel, clock } = setup();
    await backend.setup();
    const s1 = fixtureState();
    const full = await backend.sync(nodeView(s1), undefined);
    expect(full).toMatchObject({ full: true, mode: 'replace', staleDeleted: 0 });
    expect(kernel.transactions).toHaveLength(1);
    expect(full.lines).toBe(kernel.transactions[0]!.text.split('\n').length - 1);
    expect(full.bytes).toBe(Buffer.byteLength(kernel.transactions[0]!.text));
    expect(kernel.dump('ip')).toBe(freshDump(s1, 'ip'));
    expect(kernel.dump('ip6')).toBe(freshDump(s1, 'ip6'));

    const s2 = fixtureState(fixtureObjectsAfterEndpointChange());
    const partial = await backend.sync(nodeView(s2), changesBetween(s1, s2));
    expect(partial).toMatchObject({ full: false, mode: 'partial', lines: 6 });
    expect(kernel.dump('ip')).toBe(freshDump(s2, 'ip'));

    // A Service goes: its chain is flushed now, deleted by the transaction before the next sync.
    const s3 = fixtureState(without(['svc10']));
    await backend.sync(nodeView(s3), changesBetween(s2, s3));
    expect(kernel.table('ip')!.chains.get('service-4C6A7Y5F-ns10/svc10/udp/')?.rules).toEqual([]);
    const s4 = fixtureState(without(['svc10', 'svc9']));
    clock.t += 59_999;
    expect((await backend.sync(nodeView(s4), changesBetween(s3, s4))).staleDeleted).toBe(0);
    clock.t += 1;
    expect((await backend.sync(nodeView(s4), changesBetween(s4, s4))).staleDeleted).toBe(1);
    expect(kernel.table('ip')!.chains.has('service-4C6A7Y5F-ns10/svc10/udp/')).toBe(false);
    clock.t += 60_000;
    expect(await backend.deleteStaleChains()).toBe(4); // svc9's service and external chains, in both families
    expect(kernel.dump('ip')).toBe(freshDump(s4, 'ip'));
    expect(kernel.dump('ip6')).toBe(freshDump(s4, 'ip6'));
    backend.dispose();
  });

  it('a full sync asked for while the view is trusted rewrites (affinity kept); a node change does too', async () => {
    const { backend, kernel } = setup();
    const s1 = fixtureState();
    await backend.sync(nodeView(s1), undefined);
    expect((await backend.sync(nodeView(s1), undefined)).mode).toBe('rewrite');
    const moved = fixtureState(fixtureObjects().map((o) => ((o as { metadata: { name: string } }).metadata.name === nodeName && (o as { kind: string }).kind === 'Node' ? node(nodeName, { addresses: ['192.168.0.9', '2001:db8::9'] }) : o)));
    const changes = changesBetween(s1, moved);
    expect(changes.node).toBe(true);
    const r = await backend.sync(nodeView(moved), changes);
    expect(r.mode).toBe('rewrite');
    expect(kernel.table('ip')!.sets.get('nodeport-ips')!.elements.has('192.168.0.9')).toBe(true);
    expect(kernel.dump('ip')).toBe(freshDump(moved, 'ip'));
    backend.dispose();
  });

  it('a rejected transaction throws the exact text and the blamed line, leaves the tables as they were, and the next sync replaces them', async () => {
    let poison = false;
    const { backend, kernel, logger } = setup({
      transformTransaction: (text) => (poison ? text.replace('\n', '\nadd rule ip kpng services goto no-such-chain\n') : text),
    });
    const s1 = fixtureState();
    await backend.sync(nodeView(s1), undefined);
    const before = kernel.dump('ip');
    poison = true;
    const s2 = fixtureState(fixtureObjectsAfterEndpointChange());
    const err = await backend.sync(nodeView(s2), changesBetween(s1, s2)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuleApplyError);
    const e = err as RuleApplyError;
    expect(e.code).toBe('KPNG_ERR_NFT_TRANSACTION');
    expect(e.line).toBe(2);
    expect(e.lineText).toBe('add rule ip kpng services goto no-such-chain');
    expect(e.input.split('\n')[0]).toBe('flush chain ip kpng service-ULMVA6XW-ns1/svc1/tcp/p80');
    expect(e.message).toMatch(/^KPNG_ERR_NFT_TRANSACTION: nft rejected the partial sync rules at input line 2: add rule ip kpng services goto no-such-chain/);
    expect(kernel.dump('ip')).toBe(before);
    expect(backend.known).toBe(false);
    expect(logger.lines.some((l) => l.level === 'error' && l.msg.includes('the next sync replaces the tables'))).toBe(true);
    poison = false;
    // Even told what changed, the backend no longer trusts its view: it replaces.
    const r = await backend.sync(nodeView(s2), changesBetween(s1, s2));
    expect(r.mode).toBe('replace');
    expect(kernel.dump('ip')).toBe(freshDump(s2, 'ip'));
    backend.dispose();
  });

  it('--dry-run prints each transaction with a header and touches nothing', async () => {
    const out: string[] = [];
    const { backend, calls } = setup({ dryRun: true, write: (t) => out.push(t) });
    const s1 = fixtureState();
    await backend.sync(nodeView(s1), undefined);
    const s2 = fixtureState(fixtureObjectsAfterEndpointChange());
    await backend.sync(nodeView(s2), changesBetween(s1, s2));
    expect(calls).toEqual([]);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(/^# kpng to-nft --dry-run: full sync \(replace\), for nft -f -\nadd table ip kpng \{ comment "rules for kpng" ; \}\ndelete table ip kpng\n/);
    expect(out[1]).toMatch(/^# kpng to-nft --dry-run: partial sync, for nft -f -\nflush chain ip kpng service-ULMVA6XW/);
    expect(await backend.tampered()).toBe(false);
    await backend.cleanup();
    expect(out[2]).toBe('# kpng to-nft --cleanup --dry-run: for nft -f -\nadd table ip kpng\ndelete table ip kpng\nadd table ip6 kpng\ndelete table ip6 kpng\n');
    expect(calls).toEqual([]);
  });

  it('tampered(): a deleted table, a flushed chain or map, a rule added to or deleted from a fixed chain are noticed; the next sync replaces', async () => {
    const { backend, kernel } = setup();
    const s1 = fixtureState();
    await backend.sync(nodeView(s1), undefined);
    const chains = [...backend.views!.values()].reduce((n, v) => n + v.global.chains.length, 0);
    /** How many checks it took to notice (0: none of `chains` checks did). */
    const checksToNotice = async () => {
      for (let i = 1; i <= chains; i++) if (await backend.tampered()) return i;
      return 0;
    };
    expect(await backend.tampered()).toBe(false);
    kernel.apply('delete table ip kpng\n');
    expect(await backend.tampered()).toBe(true);
    expect((await backend.sync(nodeView(s1), changesBetween(s1, s1))).mode).toBe('replace');
    expect(await backend.tampered()).toBe(false);

    // Flushed: a map, a set, a fixed chain, a whole table's chains. Noticed at the next check.
    for (const flush of ['flush map ip kpng service-ips', 'flush set ip6 kpng cluster-ips', 'flush chain ip kpng services', 'flush chain ip6 kpng nat-prerouting']) {
      kernel.apply(`${flush}\n`);
      expect(await backend.tampered(), flush).toBe(true);
      expect((await backend.sync(nodeView(s1), undefined)).mode).toBe('replace');
      expect(kernel.dump('ip')).toBe(freshDump(s1, 'ip'));
      expect(kernel.dump('ip6')).toBe(freshDump(s1, 'ip6'));
      expect(await backend.tampered()).toBe(false); // takes the baselines again
    }

    // A rule added to a fixed chain: one chain is listed in full a check, so within as many checks as there are.
    kernel.apply('add rule ip6 kpng services drop\n');
    expect(await checksToNotice()).toBeGreaterThan(0);
    await backend.sync(nodeView(s1), undefined);
    expect(kernel.table('ip6')!.chains.get('services')!.rules.map((r) => r.text)).not.toContain('drop');

    // The same rules re-added (new handles) is a change too.
    expect(await backend.tampered()).toBe(false);
    const masq = kernel.table('ip')!.chains.get('masquerading')!;
    kernel.apply(`flush chain ip kpng masquerading\n${masq.rules.map((r) => `add rule ip kpng masquerading ${r.text}`).join('\n')}\n`);
    expect(await backend.tampered()).toBe(true);
    backend.dispose();
  });

  it('tampered() drops a reading that a sync overlapped, and holds no sync up while it reads', async () => {
    const kernel = new FakeNft();
    const inner = kernel.runner();
    const gate: { until?: Promise<void> } = {};
    const reads: string[] = [];
    const run: typeof inner = async (file, args, o) => {
      if (args[0] === '-j' || args[0] === '-a') {
        reads.push(args.join(' '));
        await gate.until;
      }
      return inner(file, args, o);
    };
    const backend = new NftBackend({ logger: memoryLogger(), clusterCIDRs, run });
    const s1 = fixtureState();
    await backend.sync(nodeView(s1), undefined);
    expect(await backend.tampered()).toBe(false);
    let open!: () => void;
    gate.until = new Promise((r) => (open = r));
    const check = backend.tampered();
    await new Promise((r) => setTimeout(r, 0));
    expect(reads.length).toBeGreaterThan(0); // reading, and stuck there
    kernel.apply('flush map ip kpng service-ips\n');
    const s2 = fixtureState(fixtureObjectsAfterEndpointChange());
    const synced = await backend.sync(nodeView(s2), changesBetween(s1, s2)); // not held up by the check
    expect(synced.mode).toBe('partial');
    open();
    expect(await check).toBe(false); // element counts read before or during that sync: dropped
    expect(await backend.tampered()).toBe(true); // the next check reads again
    expect((await backend.sync(nodeView(s2), undefined)).mode).toBe('replace');
    expect(await backend.tampered()).toBe(false);

    // Partial syncs leave the fixed chains alone: one overlapping the reading does not stop it noticing a flushed chain.
    gate.until = new Promise((r) => (open = r));
    const again = backend.tampered();
    await new Promise((r) => setTimeout(r, 0));
    kernel.apply('flush chain ip kpng services\n');
    expect((await backend.sync(nodeView(s1), changesBetween(s2, s1))).mode).toBe('partial');
    open();
    expect(await again).toBe(true);
    backend.dispose();
  });

  it('tampered() while a sync is under way: planned once that sync is done, it finds nothing wrong', async () => {
    const kernel = new FakeNft();
    const inner = kernel.runner();
    const gate: { until?: Promise<void> } = {};
    const run: typeof inner = async (file, args, o) => {
      if (args.join(' ') === '-f -') await gate.until;
      return inner(file, args, o);
    };
    const backend = new NftBackend({ logger: memoryLogger(), clusterCIDRs, run });
    const s1 = fixtureState();
    const s2 = fixtureState(fixtureObjectsAfterEndpointChange());
    await backend.sync(nodeView(s1), undefined);
    let open!: () => void;
    gate.until = new Promise((r) => (open = r));
    const syncing = backend.sync(nodeView(s2), changesBetween(s1, s2));
    await new Promise((r) => setTimeout(r, 0));
    const check = backend.tampered();
    open();
    expect((await syncing).mode).toBe('partial');
    expect(await check).toBe(false);
    backend.dispose();
  });

  it('tampered(): a reading nft could not make (a dump interrupted by a transaction) concludes nothing', async () => {
    const kernel = new FakeNft();
    const inner = kernel.runner();
    let interrupt = false;
    const run: typeof inner = async (file, args, o) =>
      interrupt && args[0] === '-j' ? { exitCode: 1, stdout: '', stderr: 'netlink: Error: Interrupted system call\n' } : inner(file, args, o);
    const logger = memoryLogger();
    const backend = new NftBackend({ logger, clusterCIDRs, run });
    await backend.sync(nodeView(fixtureState()), undefined);
    interrupt = true;
    expect(await backend.tampered()).toBe(false);
    expect(logger.lines.at(-1)).toMatchObject({ level: 'warn', msg: 'tamper check inconclusive; the next one reads again' });
    expect(backend.known).toBe(true);
    interrupt = false;
    kernel.apply('flush map ip kpng service-ips\n');
    expect(await backend.tampered()).toBe(true);
    backend.dispose();
  });

  it('cleanup() deletes both tables, and is harmless when they are gone', async () => {
    const { backend, kernel } = setup();
    await backend.sync(nodeView(fixtureState()), undefined);
    await backend.cleanup();
    expect(kernel.tables.size).toBe(0);
    await backend.cleanup();
    expect(kernel.tables.size).toBe(0);
    expect(backend.known).toBe(false);
  });

  it('setup: a node where nft does not work fails with KPNG_ERR_NFT_SETUP; --ip-families limits the tables', async () => {
    const missing = setup({}, new FakeNft(), { missing: ['nft'] });
    await expect(missing.backend.setup()).rejects.toThrow(/^KPNG_ERR_NFT_SETUP: nft cannot create tables on this node/);
    const v6 = setup({ families: ['IPv6'] });
    await v6.backend.sync(nodeView(fixtureState()), undefined);
    expect([...v6.kernel.tables.keys()]).toEqual(['ip6 kpng']);
    const explicit = setup({ families: ['IPv4'] }, new FakeNft(), { missing: ['nft'] });
    await expect(explicit.backend.setup()).rejects.toThrow(/^KPNG_ERR_NFT_SETUP: nft cannot create the ip kpng table here: spawn nft ENOENT/);
  });

  it('--nodeport-addresses CIDRs pick the NodePort IPs among the addresses `ip addr` shows (read again on full syncs)', async () => {
    const addresses = ['192.168.0.2', '10.9.9.9', '127.0.0.1', 'fd00::5'];
    const { backend, kernel, calls } = setup({ nodePortAddresses: ['10.0.0.0/8', '127.0.0.0/8', 'fd00::/8'] }, new FakeNft(), { addresses });
    const s1 = fixtureState();
    await backend.sync(nodeView(s1), undefined);
    expect([...kernel.table('ip')!.sets.get('nodeport-ips')!.elements.keys()]).toEqual(['10.9.9.9']);
    expect([...kernel.table('ip6')!.sets.get('nodeport-ips')!.elements.keys()]).toEqual(['fd00::5']);
    const s2 = fixtureState(fixtureObjectsAfterEndpointChange());
    await backend.sync(nodeView(s2), changesBetween(s1, s2));
    expect(calls.filter((c) => c === 'ip -j addr show')).toHaveLength(1);
    backend.dispose();
  });

  it('flag errors name the flag and what it accepts', () => {
    const logger = memoryLogger();
    expect(() => createNftBackend({ 'cluster-cidr': ['10.0.0.0/8', '10.1.0.0/16'] }, { logger })).toThrow('KPNG_ERR_NFT_SETUP: --cluster-cidr: 2 CIDRs of IPv4; accepted: at most one per family');
    expect(() => createNftBackend({ 'nodeport-addresses': ['eth0'] }, { logger })).toThrow('KPNG_ERR_NFT_SETUP: --nodeport-addresses=eth0: accepted: CIDRs and/or "primary"');
    expect(() => createNftBackend({ 'masquerade-bit': 32 }, { logger })).toThrow('KPNG_ERR_NFT_SETUP: --masquerade-bit=32: accepted: an integer 0-31');
    expect(() => createNftBackend({ 'ip-families': ['ipv5'] }, { logger })).toThrow('KPNG_ERR_NFT_SETUP: --ip-families=ipv5: accepted: IPv4, IPv6');
    expect(nftBackend.flags.map((f) => f.name)).toEqual(['cluster-cidr', 'masquerade-all', 'nodeport-addresses', 'masquerade-bit', 'ip-families', 'dry-run', 'cleanup']);
    expect(createNftBackend({}, { logger }).name).toBe('nftables');
  });

  it('a Service with more endpoints than the rules pick through one anonymous map', async () => {
    const { backend, kernel } = setup();
    const many = Array.from({ length: 20 }, (_, i) => `10.181.0.${i + 1}`);
    const state = fixtureState([node(nodeName, { addresses: ['192.168.0.2'] }), service('big', { clusterIPs: ['172.30.1.1'], ports: [{ name: 'p', port: 80 }] }), slice('big', 'big', many, { ports: [{ name: 'p', port: 80 }] })]);
    await backend.sync(nodeView(state), undefined);
    const rules = [...kernel.table('ip')!.chains].find(([n]) => n.startsWith('service-') && n.includes('/'))![1].rules.map((r) => r.text);
    expect(rules).toHaveLength(2);
    expect(rules[1]).toMatch(/^numgen random mod 20 vmap \{ 0 : goto endpoint-\S+__10\.181\.0\.1\/80, 1 : goto /);
    const endpointChains = [...kernel.table('ip')!.chains].filter(([n]) => n.startsWith('endpoint-'));
    expect(endpointChains).toHaveLength(20);
    expect(endpointChains[0]![1].rules.map((r) => r.text)).toEqual(['meta l4proto tcp dnat to 10.181.0.1:80']);
    backend.dispose();
  });
});
