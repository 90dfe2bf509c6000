import { describe, expect, it } from 'vitest';
import { memoryLogger } from '../../runtime/log.ts';
import { RuleApplyError } from '../common/index.ts';
import { inputText } from './exec.ts';
import { IptablesBackend, blamedLine, type IptablesBackendOptions } from './backend.ts';
import { iptablesBackend } from './index.ts';
import { renderIptables } from './render.ts';
import { Ruleset } from './rules.ts';
import { clusterCIDRs, fakeKernel, fixtureObjects, fixtureObjectsAfterEndpointChange, fixtureState, nodeIPv4, type FakeKernel } from './testing.ts';
import { noChanges, nodeView } from '../../model/index.ts';
import { changesBetween } from '../../model/testing.ts';

function setup(opts: Partial<IptablesBackendOptions> = {}, kernel: FakeKernel = fakeKernel()) {
  const inputs: Array<{ file: string; input: string }> = [];
  const run: IptablesBackendOptions['run'] = async (file, args, o) => {
    // A sync's input comes in chunks (written as made): joined here, once.
    const input = inputText(o);
    if (input === undefined) return kernel.run(file, args, o);
    inputs.push({ file, input });
    return kernel.run(file, args, { ...o, input });
  };
  const logger = memoryLogger();
  const backend = new IptablesBackend({ logger, clusterCIDRs, run, ...opts });
  return { backend, kernel, inputs, logger };
}

const without = (names: string[]) => fixtureObjects().filter((o) => !names.includes((o as { metadata: { name: string } }).metadata.name));

describe('IptablesBackend against a pretend node', () => {
  it('full sync, then partial syncs that write only what changed, deleting what went away', async () => {
    const { backend, kernel, inputs } = setup();
    await backend.setup();
    expect(backend.iptablesMode).toBe('nft');
    expect(backend.ipFamilies).toEqual(['IPv4', 'IPv6']);

    const s1 = fixtureState();
    const full = await backend.sync(nodeView(s1), undefined);
    expect(full.full).toBe(true);
    expect(inputs.map((i) => i.file)).toEqual(['iptables-nft-restore', 'ip6tables-nft-restore']);
    expect(full.bytes).toBe(inputs.reduce((n, i) => n + Buffer.byteLength(i.input), 0));
    const v4 = kernel.ruleset('nft', 'IPv4');
    expect(v4.hasChain('nat', 'KUBE-SVC-XPGD46QRK7WJZT7O')).toBe(true);
    expect(v4.hasChain('mangle', 'KUBE-PROXY-CANARY')).toBe(true);

    inputs.length = 0;
    const s2 = fixtureState(fixtureObjectsAfterEndpointChange());
    const partial = await backend.sync(nodeView(s2), changesBetween(s1, s2));
    expect(partial.full).toBe(false);
    const perService = inputs[0]!.input.split('\n').filter((l) => /^:KUBE-(SVC|SVL|EXT|FW|SEP)-/.test(l));
    expect(perService).toHaveLength(4); // svc1's SVC chain and its three endpoints
    expect(v4.save()).toBe(new Ruleset().apply(renderIptables(nodeView(s2), { family: 'IPv4', clusterCIDRs }).text).save());

    const s3 = fixtureState(without(['svc10', 'svc1-v4', 'svc1-v6']));
    await backend.sync(nodeView(s3), changesBetween(s2, s3));
    expect(v4.hasChain('nat', 'KUBE-SVC-QDO3I4N2LY6G2GUJ')).toBe(false);
    expect(v4.hasChain('nat', 'KUBE-SEP-SXIVWICOYRO3J4NJ')).toBe(false);
    expect(v4.save()).toBe(new Ruleset().apply(renderIptables(nodeView(s3), { family: 'IPv4', clusterCIDRs }).text).save());
  });

  it('a partial sync after one endpoint change writes rules only into that service port’s chains and the fixed dispatch chains, in its family only', async () => {
    const { backend, inputs } = setup();
    const s1 = fixtureState();
    await backend.sync(nodeView(s1), undefined);
    inputs.length = 0;
    const s2 = fixtureState(fixtureObjectsAfterEndpointChange());
    await backend.sync(nodeView(s2), changesBetween(s1, s2));
    // svc1's IPv4 endpoints changed: IPv6, where nothing did, is not written at all.
    expect(inputs.map((i) => i.file)).toEqual(['iptables-nft-restore']);
    const fixed = new Set(['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-NODEPORTS', 'KUBE-FORWARD', 'KUBE-PROXY-FIREWALL', 'KUBE-FIREWALL', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ']);
    for (const { file, input } of inputs) {
      const lines = input.split('\n');
      const declared = lines.filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]!);
      const perService = declared.filter((c) => !fixed.has(c));
      // Every chain a rule is written into was declared (and so flushed) by this input: nothing is appended to a chain left as it was.
      const written = new Set(lines.filter((l) => l.startsWith('-A ')).map((l) => l.split(' ')[1]!));
      expect([...written].filter((c) => !declared.includes(c)), file).toEqual([]);
      // The per-service chains are svc1's, and only its rules go into them.
      for (const chain of perService) {
        const rules = lines.filter((l) => l.startsWith(`-A ${chain} `));
        expect(rules.length, `${file} ${chain}`).toBeGreaterThan(0);
        for (const rule of rules) expect(rule, file).toMatch(/--comment "?ns1\/svc1:p80[ "]/);
      }
      expect(lines.filter((l) => l.startsWith('-X ')), file).toEqual([]);
    }
    // IPv4: svc1's SVC chain and its three endpoints' chains; the per-service chains of the rest are left alone.
    expect(inputs[0]!.input.split('\n').filter((l) => /^:KUBE-(SVC|SVL|EXT|FW|SEP)-/.test(l))).toHaveLength(4);
  });

  it('a full sync finds stale chains a previous process left, and does not duplicate jump rules', async () => {
    const kernel = fakeKernel();
    const first = setup({}, kernel);
    await first.backend.sync(nodeView(fixtureState()), undefined);
    // A new process, a smaller cluster.
    const second = setup({}, kernel);
    const small = fixtureState(without(['svc4']));
    await second.backend.sync(nodeView(small), undefined);
    const v4 = kernel.ruleset('nft', 'IPv4');
    expect(v4.hasChain('nat', 'KUBE-SVC-4SW47YFZTEDKD3PK')).toBe(false);
    expect(v4.rules('nat', 'PREROUTING')).toHaveLength(1);
    expect(v4.rules('filter', 'INPUT')).toHaveLength(4);
    expect(v4.save()).toBe(new Ruleset().apply(renderIptables(nodeView(small), { family: 'IPv4', clusterCIDRs }).text).save());
  });

  it('writes a sync’s input to iptables-restore in chunks as it is made (never one string); a refusal still carries the whole input and its line', async () => {
    const kernel = fakeKernel();
    const handed: Array<{ file: string; chunks: boolean; input: string }> = [];
    let refuse = false;
    const run: IptablesBackendOptions['run'] = async (file, args, o) => {
      if (!file.endsWith('-restore')) return kernel.run(file, args, o);
      const input = inputText(o) ?? '';
      handed.push({ file, chunks: o?.input === undefined && o?.inputChunks !== undefined, input });
      if (refuse) return { exitCode: 2, stdout: '', stderr: `${file} v1.8.9: Couldn't load target\nError occurred at line: 3\n` };
      return kernel.run(file, args, { ...o, input });
    };
    const backend = new IptablesBackend({ logger: memoryLogger(), clusterCIDRs, run, families: ['IPv4'] });
    const s1 = fixtureState();
    const stats = await backend.sync(nodeView(s1), undefined);
    expect(handed.map((h) => [h.file, h.chunks])).toEqual([['iptables-nft-restore', true]]);
    expect(handed[0]!.input.startsWith('*filter\n')).toBe(true);
    expect(handed[0]!.input.endsWith('COMMIT\n')).toBe(true);
    expect(stats.bytes).toBe(Buffer.byteLength(handed[0]!.input));
    expect(stats.lines).toBe(handed[0]!.input.split('\n').length - 1);
    expect(kernel.ruleset('nft', 'IPv4').hasChain('nat', 'KUBE-SVC-XPGD46QRK7WJZT7O')).toBe(true);

    refuse = true;
    handed.length = 0;
    const err = await backend.sync(nodeView(s1), undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuleApplyError);
    const e = err as RuleApplyError;
    expect(e.input).toBe(handed[0]!.input);
    expect(e.lineText).toBe(handed[0]!.input.split('\n')[2]);
  });

  it('a rejected input leaves the previous rules, carries the offending line, and forces a full sync next', async () => {
    let poison = false;
    const bad = '-A KUBE-SERVICES -m comment --comment "poison" -j KUBE-NO-SUCH-CHAIN';
    const { backend, kernel, inputs } = setup({ transformInput: (_f, text) => (poison ? text.replace('COMMIT\n', `${bad}\nCOMMIT\n`) : text) });
    const s1 = fixtureState();
    await backend.sync(nodeView(s1), undefined);
    const before = kernel.ruleset('nft', 'IPv4').save();
    poison = true;
    const s2 = fixtureState(fixtureObjectsAfterEndpointChange());
    const err = await backend.sync(nodeView(s2), changesBetween(s1, s2)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuleApplyError);
    const e = err as RuleApplyError;
    expect(e.code).toBe('KPNG_ERR_IPTABLES_RESTORE');
    expect(e.lineText).toBe(bad);
    expect(e.input.split('\n')[e.line! - 1]).toBe(bad);
    expect(e.command[0]).toBe('iptables-nft-restore');
    expect(e.message).toContain('KPNG_ERR_IPTABLES_RESTORE');
    expect(kernel.ruleset('nft', 'IPv4').save()).toBe(before);
    poison = false;
    inputs.length = 0;
    const again = await backend.sync(nodeView(s2), changesBetween(s1, s2));
    expect(again.full).toBe(true);
    expect(inputs[0]!.input).toContain(':KUBE-PROXY-CANARY - [0:0]');
  });

  it('tampered() notices a canary gone from any table', async () => {
    const { backend, kernel } = setup();
    expect(await backend.tampered()).toBe(false); // nothing synced yet
    await backend.sync(nodeView(fixtureState()), undefined);
    expect(await backend.tampered()).toBe(false);
    kernel.ruleset('nft', 'IPv6').apply('*filter\n-X KUBE-PROXY-CANARY\nCOMMIT\n');
    expect(await backend.tampered()).toBe(true);
    const s = await backend.sync(nodeView(fixtureState()), noChanges());
    expect(s.full).toBe(true);
    expect(await backend.tampered()).toBe(false);
  });

  it('tampered() notices a flushed nat table, a flushed KUBE-SERVICES and a deleted jump rule, and names what is gone', async () => {
    const { backend, kernel, logger } = setup();
    await backend.sync(nodeView(fixtureState()), undefined);
    expect(await backend.tampered()).toBe(false);
    const flushNat = (rs: Ruleset) => {
      for (const chain of rs.tables.get('nat')!.chains.keys()) rs.apply(`*nat\n-F ${chain}\nCOMMIT\n`); // iptables -t nat -F
    };
    for (const [family, what, change, gone] of [
      ['IPv4', 'iptables -t nat -F', flushNat, /rule gone: (PREROUTING|OUTPUT|POSTROUTING) /],
      ['IPv6', 'ip6tables -t nat -F KUBE-SERVICES', (rs: Ruleset) => rs.apply('*nat\n-F KUBE-SERVICES\nCOMMIT\n'), /rule gone: KUBE-SERVICES -m comment --comment "kubernetes service nodeports/],
      ['IPv4', 'a jump rule deleted', (rs: Ruleset) => rs.apply('*filter\n-D FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD\nCOMMIT\n'), /rule gone: FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD/],
    ] as const) {
      const rs = kernel.ruleset('nft', family);
      const before = rs.save().split('\n').sort();
      change(rs);
      expect(await backend.tampered(), what).toBe(true);
      expect(logger.lines.at(-1)?.msg).toMatch(gone);
      expect((await backend.sync(nodeView(fixtureState()), noChanges())).full).toBe(true);
      expect(rs.save().split('\n').sort()).toEqual(before);
      expect(await backend.tampered()).toBe(false);
    }
  });

  it('cleanup() removes everything from both flavours and both families', async () => {
    const kernel = fakeKernel();
    await setup({ mode: 'legacy' }, kernel).backend.sync(nodeView(fixtureState()), undefined);
    const { backend } = setup({ mode: 'nft' }, kernel);
    await backend.sync(nodeView(fixtureState()), undefined);
    await backend.cleanup();
    for (const [key, rs] of kernel.rulesets) {
      expect(rs.save(), key).not.toContain('KUBE-');
    }
  });

  it('--dry-run prints each family’s input with a header and touches nothing', async () => {
    const out: string[] = [];
    const { backend, kernel } = setup({ dryRun: true, write: (t) => out.push(t) });
    await backend.sync(nodeView(fixtureState()), undefined);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(/^# kpng to-iptables --dry-run: IPv4, full sync, for iptables-nft-restore --noflush\n\*filter\n/);
    expect(out[1]).toMatch(/^# kpng to-iptables --dry-run: IPv6/);
    expect(kernel.calls).toEqual([]);
  });

  it('--nodeport-addresses=primary answers NodePorts on the node’s own IP only', async () => {
    const { backend, inputs } = setup({ nodePortAddresses: ['primary'], families: ['IPv4'] });
    await backend.sync(nodeView(fixtureState()), undefined);
    expect(inputs[0]!.input).toContain(`--comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d ${nodeIPv4} -j KUBE-NODEPORTS`);
    expect(inputs[0]!.input).not.toContain('KUBE-FIREWALL');
  });

  it('syncs only the families whose tools work, unless told which', async () => {
    const kernel = fakeKernel({ missing: ['ip6tables'] });
    const auto = setup({}, kernel);
    await auto.backend.setup();
    expect(auto.backend.ipFamilies).toEqual(['IPv4']);
    expect(auto.logger.lines.some((l) => l.level === 'warn' && l.msg.includes('IPv6'))).toBe(true);
    const forced = setup({ families: ['IPv6'] }, kernel);
    await expect(forced.backend.setup()).rejects.toThrow(/KPNG_ERR_IPTABLES_SETUP/);
  });

  it('rejects bad options when created', () => {
    expect(() => setup({ clusterCIDRs: ['10.0.0.0/8', '10.1.0.0/16'] })).toThrow(/at most one per family/);
    expect(() => setup({ nodePortAddresses: ['eth0'] })).toThrow(/KPNG_ERR_IPTABLES_SETUP/);
  });

  it('reads the line iptables-restore blames, old and new wording', () => {
    expect(blamedLine('iptables-restore v1.8.9 (nf_tables): bad\nError occurred at line: 42\n')).toBe(42);
    expect(blamedLine('iptables-restore: line 7 failed\n')).toBe(7);
    expect(blamedLine('something else')).toBeUndefined();
  });
});

describe('the iptables descriptor', () => {
  it('declares its flags and builds a backend from their values', () => {
    expect(iptablesBackend.name).toBe('iptables');
    const names = iptablesBackend.flags.map((f) => f.name);
    for (const n of ['cluster-cidr', 'masquerade-all', 'nodeport-addresses', 'iptables-mode', 'dry-run', 'cleanup', 'ip-families']) expect(names).toContain(n);
    const b = iptablesBackend.create({ 'cluster-cidr': ['10.0.0.0/8'], 'iptables-mode': 'legacy', 'ip-families': ['ipv4'], 'dry-run': true }, { logger: memoryLogger() });
    expect(b.name).toBe('iptables');
    expect(() => iptablesBackend.create({ 'ip-families': ['ipv5'] }, { logger: memoryLogger() })).toThrow(/accepted: IPv4, IPv6/);
    expect(() => iptablesBackend.create({ 'masquerade-bit': 40 }, { logger: memoryLogger() })).toThrow(/0-31/);
  });
});
