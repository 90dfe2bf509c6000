// Whatever text a service port's names hold, both backends' rule text stays what it means:
// random strings (quotes, newlines, backslashes, semicolons, braces, #, unicode, very long)
// in every user field of a node-local state built by hand (so the model's validation is
// not what protects: the escaping functions alone are tested) are rendered, parsed by the
// real tools (iptables-restore --test, both flavours and families; nft -c -f), applied for
// real in a namespace of our own, and read back: not one transaction refused, and the
// kernel's ruleset has the shape of the same state with benign names, rule for rule.
// The PRNG is seeded: KPNG_FUZZ_SEED=<n> replays a run (the seed is printed).
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IPFamily, LocalEndpoint, LocalState, ServicePortState } from '../../model/index.ts';
import { netnsRunner, type Runner } from '../common/index.ts';
import { clusterCIDRs, fixtureState } from '../common/testing.ts';
import { binaries, type IptablesMode } from '../iptables/mode.ts';
import { renderIptables } from '../iptables/render.ts';
import { Ruleset } from '../iptables/rules.ts';
import { planReplace } from '../nft/transaction.ts';
import { nodeView } from '../../model/index.ts';

const seed = Number(process.env.KPNG_FUZZ_SEED ?? randomBytes(4).readUInt32LE());
console.log(`rule text fuzz: KPNG_FUZZ_SEED=${seed}`);

/** mulberry32: a small seeded PRNG, [0, 1). */
function prng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pieces = [
  '"', "'", '\n', '\r', '\\', '\\"', ';', '{', '}', '#', ' ', '\t', '$', '@', '*', '!', ':', '/', '-', '.', '_', '[', ']', '>', ',', '\u0000',
  '\n-A INPUT -j DROP\n', '" -j DROP\n-A OUTPUT -j DROP\n#', '\nCOMMIT\n*filter\n-I INPUT -j DROP\n', ' -m comment --comment x',
  '" ; flush ruleset ; "', '\nadd rule ip kpng services drop\n', '} ; add table ip evil { ', '"\nadd table ip evil\n',
  'é', 'ü', 'ß', '😀', '中文', '\u202e', '\ufeff', 'A', 'Z', '0', '9', 'a', 'z', 'default', 'kube-system', 'COMMIT', 'drop', 'accept', 'jump',
];

function randomText(rand: () => number): string {
  if (rand() < 0.1) return ''; // empty
  if (rand() < 0.1) return pieces[Math.floor(rand() * pieces.length)]!.repeat(200 + Math.floor(rand() * 800)); // very long
  let out = '';
  const n = 1 + Math.floor(rand() * 12);
  for (let i = 0; i < n; i++) out += pieces[Math.floor(rand() * pieces.length)]!;
  return out;
}

interface Names {
  namespace: string;
  name: string;
  portName: string;
  endpoint: () => Pick<LocalEndpoint, 'nodeName' | 'zone' | 'hostname' | 'targetRef'>;
}

/** The fixture's service ports, each `copies` times under new names, cluster IPs and NodePorts. */
function stateNamed(copies: number, names: (i: number) => Names, node: { name: string; zone: string; labels: Record<string, string> }): LocalState {
  const templates = [...fixtureState().servicePorts.values()];
  const ports = new Map<string, ServicePortState>();
  let i = 0;
  for (let c = 0; c < copies; c++) {
    for (const t of templates) {
      const n = names(i);
      const key = `${n.namespace}/${n.name}${n.portName === '' ? '' : `:${n.portName}`}#${i}`;
      const clusterIPs = t.clusterIPs.map((ip) => (ip.includes(':') ? `fd00:31::${(i + 1).toString(16)}` : `172.31.${i >> 8}.${i & 255}`));
      const rename = (eps: LocalEndpoint[]) => eps.map((e) => ({ ...e, ...n.endpoint() }));
      ports.set(key, {
        ...t,
        key,
        serviceKey: `${n.namespace}/${n.name}`,
        namespace: n.namespace,
        name: n.name,
        portName: n.portName,
        clusterIPs,
        nodePort: t.nodePort === 0 ? 0 : 30000 + i,
        healthCheckNodePort: t.healthCheckNodePort === 0 ? 0 : 31000 + i,
        internalEndpoints: rename(t.internalEndpoints),
        externalEndpoints: rename(t.externalEndpoints),
        clusterEndpoints: rename(t.clusterEndpoints),
      });
      i++;
    }
  }
  const base = fixtureState().node;
  return { node: { ...base, name: node.name, zone: node.zone, labels: node.labels }, servicePorts: ports };
}

const rounds = 12;
const copies = 3;

function fuzzedState(rand: () => number): LocalState {
  const text = () => randomText(rand);
  return stateNamed(copies, () => ({ namespace: text(), name: text(), portName: text(), endpoint: () => ({ nodeName: text(), zone: text(), hostname: text(), targetRef: text() }) }), {
    name: text(),
    zone: text(),
    labels: { [text()]: text() },
  });
}

function benignState(): LocalState {
  return stateNamed(copies, (i) => ({ namespace: `ns${i}`, name: `svc${i}`, portName: `p${i}`, endpoint: () => ({ nodeName: 'node-b', hostname: 'h' }) }), { name: 'node-a', zone: 'z', labels: {} });
}

// ---------------------------------------------------------------------------------------
// iptables: the shape of a saved ruleset

/** Per table: the built-in chains' rules word for word, and our chains' rule counts (their names are hashes of the names). */
function iptablesShape(saved: string): Record<string, unknown> {
  const rs = new Ruleset().apply(saved, { noflush: false, checkTargets: false });
  const out: Record<string, unknown> = {};
  for (const [table, t] of rs.tables) {
    const builtin: Record<string, string[]> = {};
    const ours: number[] = [];
    const others: string[] = [];
    for (const [chain, rules] of t.chains) {
      if (['INPUT', 'FORWARD', 'OUTPUT', 'PREROUTING', 'POSTROUTING'].includes(chain)) builtin[chain] = rules.map((r) => r.args.join(' '));
      else if (chain.startsWith('KUBE-')) ours.push(rules.length);
      else others.push(chain);
    }
    out[table] = { builtin, ours: ours.sort((a, b) => a - b), others };
  }
  return out;
}

const flushAll = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n';

// ---------------------------------------------------------------------------------------
// nft: the shape of `nft -j list ruleset`

interface NftObject {
  table?: { family: string; name: string };
  chain?: { family: string; table: string; name: string; type?: string; hook?: string; prio?: number };
  rule?: { family: string; table: string; chain: string; expr: unknown[] };
  set?: { family: string; table: string; name: string; elem?: unknown[] };
  map?: { family: string; table: string; name: string; elem?: unknown[] };
}

/** Per-service chains and sets: a prefix, the hash of the names, then the names made safe (and maybe cut). */
const perService = /^(service|local|external|endpoint|firewall|affinity)-[A-Z2-7]{8}-/;

/** Tables; per fixed chain its rules; per service chain only its rule count; per set or map its element count. */
function nftShape(json: string): Record<string, unknown> {
  const objects = (JSON.parse(json) as { nftables: NftObject[] }).nftables;
  const tables: string[] = [];
  const fixed: Record<string, string[]> = {};
  const service: Record<string, number> = {};
  const containers: Record<string, number[]> = {};
  const chainOf = new Map<string, string>();
  for (const o of objects) {
    if (o.table) tables.push(`${o.table.family} ${o.table.name}`);
    if (o.chain) chainOf.set(`${o.chain.family} ${o.chain.name}`, perService.test(o.chain.name) ? 'service' : 'fixed');
  }
  for (const o of objects) {
    if (o.rule) {
      const id = `${o.rule.family} ${o.rule.chain}`;
      if (chainOf.get(id) === 'fixed') (fixed[id] ??= []).push(JSON.stringify(o.rule.expr));
      else service[id] = (service[id] ?? 0) + 1;
    }
    const c = o.set ?? o.map;
    if (c) {
      const kind = perService.test(c.name) ? `${c.family} per-service` : `${c.family} ${c.name}`;
      (containers[kind] ??= []).push(c.elem?.length ?? 0);
    }
  }
  for (const v of Object.values(containers)) v.sort((a, b) => a - b);
  const serviceChains = [...chainOf].filter(([, k]) => k === 'service').map(([id]) => service[id] ?? 0).sort((a, b) => a - b);
  return { tables: tables.sort(), fixed, serviceChains, containers };
}

describe(`rule text fuzz (seed ${seed}): random names in every user field, both backends, the real tools`, () => {
  const ns = `kpng-fuzz-${randomBytes(4).toString('hex')}`;
  let run: Runner;
  beforeAll(async () => {
    await execa('ip', ['netns', 'add', ns]);
    await execa('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    run = netnsRunner(ns);
  });
  afterAll(async () => {
    await execa('ip', ['netns', 'del', ns], { reject: false });
  });

  const rand = prng(seed);
  const states = Array.from({ length: rounds }, () => fuzzedState(rand));
  const benign = benignState();
  const families: IPFamily[] = ['IPv4', 'IPv6'];

  /** Applies `text` for real (after emptying the tables) and returns iptables-save; asserts that both flavours' --test take it first. */
  async function iptablesApply(family: IPFamily, text: string, what: string): Promise<string> {
    for (const mode of ['nft', 'legacy'] as IptablesMode[]) {
      const r = await run(binaries(mode, family).restore, ['--noflush', '--test'], { input: text });
      expect(r.exitCode, `${what}: ${binaries(mode, family).restore} --test refused it (KPNG_FUZZ_SEED=${seed}): ${r.stderr}`).toBe(0);
    }
    const bin = binaries('nft', family);
    expect((await run(bin.restore, [], { input: flushAll })).exitCode).toBe(0);
    const r = await run(bin.restore, ['--noflush'], { input: text });
    expect(r.exitCode, `${what}: ${bin.restore} refused it (KPNG_FUZZ_SEED=${seed}): ${r.stderr}`).toBe(0);
    const saved = await run(bin.save, []);
    expect(saved.exitCode, saved.stderr).toBe(0);
    return saved.stdout;
  }

  it('iptables: every rendering is taken by iptables-restore (--test in both flavours, then for real), and the kernel holds exactly the rules of benign names', async () => {
    for (const family of families) {
      const expected = iptablesShape(await iptablesApply(family, renderIptables(nodeView(benign), { family, clusterCIDRs }).text, `${family} benign`));
      for (const [i, state] of states.entries()) {
        const { text } = renderIptables(nodeView(state), { family, clusterCIDRs });
        const saved = await iptablesApply(family, text, `${family} round ${i}`);
        expect(iptablesShape(saved), `${family} round ${i} (KPNG_FUZZ_SEED=${seed})`).toEqual(expected);
      }
    }
    for (const family of families) expect((await run(binaries('nft', family).restore, [], { input: flushAll })).exitCode).toBe(0);
  });

  /** Checks `text` with nft -c, applies it for real, and returns `nft -j list ruleset`. */
  async function nftApply(text: string, what: string): Promise<string> {
    const check = await run('nft', ['-c', '-f', '-'], { input: text });
    expect(check.exitCode, `${what}: nft -c refused it (KPNG_FUZZ_SEED=${seed}): ${check.stderr}`).toBe(0);
    const r = await run('nft', ['-f', '-'], { input: text });
    expect(r.exitCode, `${what}: nft refused it (KPNG_FUZZ_SEED=${seed}): ${r.stderr}`).toBe(0);
    const listing = await run('nft', ['-j', 'list', 'ruleset']);
    expect(listing.exitCode, listing.stderr).toBe(0);
    return listing.stdout;
  }

  it('nft: every transaction is taken by nft -c and then for real, and the kernel holds exactly the objects of benign names', async () => {
    expect((await run('nft', ['flush', 'ruleset'])).exitCode).toBe(0); // iptables-nft's tables too
    const o = { clusterCIDRs };
    const expected = nftShape(await nftApply(planReplace(nodeView(benign), families, o).plan.text, 'benign'));
    for (const [i, state] of states.entries()) {
      const { plan } = planReplace(nodeView(state), families, o);
      const shape = nftShape(await nftApply(plan.text, `round ${i}`));
      expect(shape, `round ${i} (KPNG_FUZZ_SEED=${seed})`).toEqual(expected);
    }
    expect((await run('nft', ['flush', 'ruleset'])).exitCode).toBe(0);
  });
});
