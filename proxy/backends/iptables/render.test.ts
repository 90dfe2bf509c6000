import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { localChanges } from '../../model/index.ts';
import { formatMark, formatProbability, renderIptables, type RenderOptions } from './render.ts';
import { Ruleset, scanSave } from './rules.ts';
import { clusterCIDRs, fixtureObjects, fixtureObjectsAfterEndpointChange, fixtureState, nodeIPv4, scaleObjects } from './testing.ts';
import { portProtoHash, servicePortEndpointChainName } from './names.ts';
import { nodeView } from '../../model/index.ts';

const golden = (name: string, text: string) => {
  const file = new URL(`./testdata/${name}.golden`, import.meta.url);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, text);
  expect(text, `testdata/${name}.golden differs (UPDATE_GOLDEN=1 rewrites it)`).toBe(readFileSync(file, 'utf8'));
};

const base = (family: 'IPv4' | 'IPv6'): RenderOptions => ({ family, clusterCIDRs });
const declared = (text: string) => text.split('\n').filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]!);

/** kube-proxy's checkIPTablesRuleJumps: every jump goes to a declared chain with rules; no declared chain goes unused. */
function checkJumps(text: string): void {
  for (const table of text.split('COMMIT\n').filter((t) => t.trim() !== '')) {
    const lines = table.split('\n');
    const created = new Set(declared(table));
    const filled = new Set(lines.filter((l) => l.startsWith('-A ')).map((l) => l.split(' ')[1]!));
    const jumped = new Set(lines.flatMap((l) => [...l.matchAll(/-j (\S+)/g)].map((m) => m[1]!)));
    for (const t of ['ACCEPT', 'REJECT', 'DROP', 'MARK', 'RETURN', 'DNAT', 'MASQUERADE']) jumped.delete(t);
    for (const c of jumped) expect(created.has(c) || ['INPUT', 'OUTPUT'].includes(c), `${c} is jumped to but not declared`).toBe(true);
    for (const c of filled) expect(created.has(c), `${c} gets rules but is not declared`).toBe(true);
    // The base chains may be empty (no NodePorts, no source ranges...); a service chain may not.
    const base = ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-FORWARD', 'KUBE-MARK-MASQ', 'KUBE-PROXY-FIREWALL', 'KUBE-FIREWALL', 'KUBE-PROXY-CANARY'];
    for (const c of jumped) if (!base.includes(c)) expect(filled.has(c), `${c} is jumped to but has no rules`).toBe(true);
    for (const c of created) if (!base.includes(c)) expect(jumped.has(c), `${c} is declared but never used`).toBe(true);
  }
}

describe('full sync input', () => {
  it('IPv4: ClusterIP, NodePort, ExternalIP, LoadBalancer + source ranges, affinity, traffic policies, no endpoints, terminating fallback, SCTP', () => {
    const r = renderIptables(nodeView(fixtureState()), base('IPv4'));
    golden('full-ipv4', r.text);
    checkJumps(r.text);
    expect(r.full).toBe(true);
    expect(r.servicePorts).toBe(10);
    expect(r.writtenServicePorts).toBe(10);
    expect(r.largeClusterMode).toBe(false);
    expect(r.rulesPerTable.filter).toBe(r.text.split('COMMIT')[0]!.split('\n').filter((l) => l.startsWith('-A ')).length);
  });

  it('IPv6: only IPv6 frontends and endpoints, icmp6 rejects, no localhost NodePorts', () => {
    const r = renderIptables(nodeView(fixtureState()), base('IPv6'));
    golden('full-ipv6', r.text);
    checkJumps(r.text);
    expect(r.text).not.toMatch(/\b\d+\.\d+\.\d+\.\d+\b/);
    expect(r.text).not.toContain('KUBE-FIREWALL');
    expect(r.text).toContain('-m addrtype --dst-type LOCAL ! -d ::1/128 -j KUBE-NODEPORTS');
    expect(r.servicePorts).toBe(4);
  });

  it('options: --masquerade-all, --nodeport-addresses, no localhost NodePorts, tcp_be_liberal', () => {
    const r = renderIptables(nodeView(fixtureState()), {
      family: 'IPv4',
      masqueradeAll: true,
      nodePortAddresses: ['192.168.0.0/24', '127.0.0.0/8', 'fd00::/8'],
      localAddresses: [nodeIPv4, '127.0.0.1', '10.1.1.1', '2001:db8::2'],
      localhostNodePorts: false,
      conntrackTCPLiberal: true,
      masqueradeBit: 5,
    });
    golden('full-ipv4-options', r.text);
    checkJumps(r.text);
    expect(r.text).toContain(`-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d ${nodeIPv4} -j KUBE-NODEPORTS`);
    expect(r.text).not.toContain('-d 127.0.0.1 -j KUBE-NODEPORTS');
    expect(r.text).not.toContain('ctstate INVALID');
    expect(r.text).not.toContain('KUBE-FIREWALL');
    expect(r.text).toContain('--or-mark 0x00000020');
  });

  it('no --cluster-cidr and no --masquerade-all: no off-cluster masquerade rule, no pod short circuit', () => {
    const r = renderIptables(nodeView(fixtureState()), { family: 'IPv4' });
    expect(r.text).not.toMatch(/cluster IP" .* -j KUBE-MARK-MASQ/);
    expect(r.text).not.toContain('pod traffic for');
    expect(r.text).toContain('masquerade LOCAL traffic for ns2/svc2:p80 external destinations');
    checkJumps(r.text);
  });

  it('installs only the jump rules iptables-save does not show', () => {
    const saved = scanSave(
      [
        '*filter',
        ':INPUT ACCEPT [0:0]',
        ':KUBE-EXTERNAL-SERVICES - [0:0]',
        '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
        '-A INPUT -j KUBE-FIREWALL',
        'COMMIT',
        '*nat',
        ':PREROUTING ACCEPT [0:0]',
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        ':KUBE-SVC-STALE0000000000 - [0:0]',
        ':KUBE-SEP-STALE0000000000 - [0:0]',
        ':CNI-HOSTPORT-DNAT - [0:0]',
        'COMMIT',
        '',
      ].join('\n'),
    );
    const r = renderIptables(nodeView(fixtureState()), { ...base('IPv4'), existing: saved });
    const jumps = r.text.split('\n').filter((l) => l.startsWith('-I '));
    expect(jumps).not.toContain('-I INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES');
    expect(jumps).not.toContain('-I INPUT -j KUBE-FIREWALL');
    expect(jumps).not.toContain('-I PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
    expect(jumps).toContain('-I OUTPUT -j KUBE-FIREWALL');
    expect(jumps).toHaveLength(11);
    // Stale service chains that exist are flushed and deleted; other chains are not ours.
    expect(r.deletedChains).toEqual(['KUBE-SEP-STALE0000000000', 'KUBE-SVC-STALE0000000000']);
    expect(r.text).toContain(':KUBE-SVC-STALE0000000000 - [0:0]');
    expect(r.text).toContain('-X KUBE-SVC-STALE0000000000');
    expect(r.text).not.toContain('CNI-HOSTPORT-DNAT');
  });

  it('jump rules are prepended in reverse, so the built-in chains end up in kube-proxy order', () => {
    const rs = new Ruleset().apply(renderIptables(nodeView(fixtureState()), base('IPv4')).text);
    const targets = (table: string, chain: string) => rs.rules(table, chain).map((r) => r.args[r.args.length - 1]);
    expect(targets('filter', 'INPUT')).toEqual(['KUBE-FIREWALL', 'KUBE-PROXY-FIREWALL', 'KUBE-NODEPORTS', 'KUBE-EXTERNAL-SERVICES']);
    expect(targets('filter', 'FORWARD')).toEqual(['KUBE-PROXY-FIREWALL', 'KUBE-FORWARD', 'KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES']);
    expect(targets('filter', 'OUTPUT')).toEqual(['KUBE-FIREWALL', 'KUBE-PROXY-FIREWALL', 'KUBE-SERVICES']);
    expect(targets('nat', 'PREROUTING')).toEqual(['KUBE-SERVICES']);
    expect(targets('nat', 'POSTROUTING')).toEqual(['KUBE-POSTROUTING']);
  });

  it('drops endpoint comments above the large-cluster threshold, keeps the dispatch comments', () => {
    const r = renderIptables(nodeView(fixtureState()), { ...base('IPv4'), largeClusterEndpointsThreshold: 5 });
    expect(r.largeClusterMode).toBe(true);
    const sep = r.text.split('\n').filter((l) => l.startsWith('-A KUBE-SEP-') || /^-A KUBE-SV[CL]-\S+ .*-j KUBE-SEP-/.test(l));
    expect(sep.length).toBeGreaterThan(10);
    for (const l of sep) expect(l).not.toContain('--comment');
    expect(r.text).toContain('-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP"');
    expect(r.text).toContain('-A KUBE-SVC-XPGD46QRK7WJZT7O -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-SXIVWICOYRO3J4NJ');
  });
});

describe('partial sync input', () => {
  const before = fixtureState();
  const first = renderIptables(nodeView(before), base('IPv4'));

  it('after one endpoint change writes only that service port’s chains: the shared chains stay as they are', () => {
    const after = fixtureState(fixtureObjectsAfterEndpointChange());
    const changes = localChanges(before, after);
    expect([...changes.servicePorts]).toEqual(['ns1/svc1:p80']);
    const r = renderIptables(nodeView(after), { ...base('IPv4'), partial: { changed: changes.servicePorts, previous: first.record } });
    golden('partial-ipv4-endpoint-change', r.text);
    expect(r.full).toBe(false);
    expect(r.writtenServicePorts).toBe(1);
    const svc1 = portProtoHash('ns1/svc1:p80', 'TCP');
    expect(declared(r.text)).toEqual([
      `KUBE-SVC-${svc1}`,
      ...['10.180.0.1:80', '10.180.0.2:80', '10.180.0.13:80'].map((ep) => servicePortEndpointChainName('ns1/svc1:p80', 'TCP', ep)),
    ]);
    // KUBE-SERVICES still jumps to the same KUBE-SVC chain: neither it nor the filter table is rewritten.
    expect(r.text).not.toContain('*filter');
    expect(r.text).not.toMatch(/^-A KUBE-(SERVICES|NODEPORTS|POSTROUTING|MARK-MASQ) /m);
    // No jump rules, no canary, nothing deleted.
    expect(r.text).not.toMatch(/^-I /m);
    expect(r.text).not.toContain('CANARY');
    expect(r.deletedChains).toEqual([]);
    // Rule counts include the chains left in place.
    const full = renderIptables(nodeView(after), base('IPv4'));
    expect(r.rulesPerTable).toEqual(full.rulesPerTable);
  });

  it('writes the shared chains whole when a port’s rules in them change, and nothing for a change of the other family only', () => {
    // svc2 loses its IPv4 endpoints: its KUBE-SERVICES rule becomes a REJECT in filter.
    const after = fixtureState(fixtureObjects().filter((x) => (x as { metadata: { name: string } }).metadata.name !== 'svc2-v4'));
    const changes = localChanges(before, after);
    const r = renderIptables(nodeView(after), { ...base('IPv4'), partial: { changed: changes.servicePorts, previous: first.record } });
    for (const c of ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FORWARD', 'KUBE-PROXY-FIREWALL']) expect(declared(r.text)).toContain(c);
    expect(r.text.match(/^-A KUBE-SERVICES /gm)!.length).toBe(renderIptables(nodeView(after), base('IPv4')).text.match(/^-A KUBE-SERVICES /gm)!.length);
    expect(r.text).toContain('"ns2/svc2:p80 has no endpoints"');

    // svc10 has no IPv6 cluster IP: its removal is nothing to write in IPv6.
    const v6 = renderIptables(nodeView(before), base('IPv6'));
    const gone = fixtureState(fixtureObjects().filter((x) => (x as { metadata: { name: string } }).metadata.name !== 'svc10'));
    const none = renderIptables(nodeView(gone), { ...base('IPv6'), partial: { changed: localChanges(before, gone).servicePorts, previous: v6.record } });
    expect(none.writtenServicePorts).toBe(0);
    expect(none.text).toBe('');
  });

  it('deletes the chains of a removed Service', () => {
    const objects = fixtureObjects().filter((o) => !['svc10'].includes((o as { metadata: { name: string } }).metadata.name));
    const after = fixtureState(objects);
    const changes = localChanges(before, after);
    const r = renderIptables(nodeView(after), { ...base('IPv4'), partial: { changed: changes.servicePorts, previous: first.record } });
    const gone = first.record.servicePorts.get('ns10/svc10')!.chains;
    expect(gone).toHaveLength(2);
    expect(r.deletedChains).toEqual([...gone].sort());
    for (const c of gone) {
      expect(r.text).toContain(`:${c} - [0:0]`);
      expect(r.text).toContain(`-X ${c}`);
    }
    expect(r.writtenServicePorts).toBe(0);
    expect(r.text).not.toContain('ns10/svc10');
  });

  it('applied on top of the previous rules, gives exactly what a full sync gives', () => {
    let objects = fixtureObjects();
    let prevState = before;
    let record = first.record;
    const kernel = new Ruleset().apply(first.text);
    const steps: Array<(o: unknown[]) => unknown[]> = [
      () => fixtureObjectsAfterEndpointChange(),
      (o) => o.filter((x) => (x as { metadata: { name: string } }).metadata.name !== 'svc10'),
      (o) => o.filter((x) => (x as { metadata: { name: string } }).metadata.name !== 'svc2-v4'), // svc2 loses its IPv4 endpoints
      (o) => o.filter((x) => (x as { metadata: { name: string } }).metadata.name !== 'svc5'), // a Service goes, its slices stay
    ];
    for (const step of steps) {
      objects = step(objects);
      const state = fixtureState(objects);
      const changes = localChanges(prevState, state);
      const r = renderIptables(nodeView(state), { ...base('IPv4'), partial: { changed: changes.servicePorts, previous: record } });
      kernel.apply(r.text);
      const fresh = new Ruleset().apply(renderIptables(nodeView(state), base('IPv4')).text);
      expect(kernel.save()).toBe(fresh.save());
      prevState = state;
      record = r.record;
    }
  });

  it('rewrites every service port when something they all depend on changed', () => {
    const r = renderIptables(nodeView(before), { ...base('IPv4'), masqueradeAll: true, partial: { changed: new Set(), previous: first.record } });
    expect(r.writtenServicePorts).toBe(r.servicePorts);
    expect(r.full).toBe(false);
  });
});

describe('formatting as kube-proxy formats', () => {
  it('probabilities are %0.10f of 1/n, ties rounded to even', () => {
    expect(formatProbability(1)).toBe('1.0000000000');
    expect(formatProbability(2)).toBe('0.5000000000');
    expect(formatProbability(3)).toBe('0.3333333333');
    expect(formatProbability(6)).toBe('0.1666666667');
    expect(formatProbability(1024)).toBe('0.0009765625');
    // 1/2048 = 0.00048828125 exactly: Go rounds the tie to even, JavaScript's toFixed would not.
    expect(formatProbability(2048)).toBe('0.0004882812');
    expect(formatProbability(8192)).toBe('0.0001220703');
    expect(formatProbability(7)).toBe((1 / 7).toFixed(10));
  });

  it('the mark is %#08x', () => {
    expect(formatMark(0x4000)).toBe('0x00004000');
  });
});

describe('scale', () => {
  it('renders 10,000 Services × 10 endpoints (~430k lines) without overflowing the call stack', () => {
    const r = renderIptables(nodeView(fixtureState(scaleObjects(10_000, 10))), base('IPv4'));
    expect(r.servicePorts).toBe(10_000);
    expect(r.lines).toBeGreaterThan(300_000);
    expect(r.lines).toBe(r.text.split('\n').length - 1);
    expect(r.text.startsWith('*filter\n')).toBe(true);
    expect(r.text.endsWith('COMMIT\n')).toBe(true);
  });
});
