import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { labSpecs } from '../../../e2e/lab/index.ts';
import { parseSuites, skipNotesFrom } from '../../e2e/index.ts';
import { repoRoot } from '../../k8s-binaries.ts';
import { parityReport } from '../../report/index.ts';
import type { Lab } from '../cluster/index.ts';
import { junitXml } from './junit.ts';
import { runSpecs } from './runner.ts';
import { labSkipsFrom } from './skips.ts';
import type { LabSpec } from './spec.ts';

const SOURCE_IP = '[sig-network] Services should preserve source pod IP for traffic thru service cluster IP [LinuxOnly]';
const LOAD_BALANCER = '[sig-network] LoadBalancers [Feature:LoadBalancer] should only allow access from service loadbalancer source ranges [Slow]';

const suites = parseSuites(
  [
    'focus:',
    "  - text: '[sig-network]'",
    '    reason: the network specs',
    'skip:',
    "  - text: '[Feature:LoadBalancer]'",
    '    reason: kind has no load-balancer provider',
    '    link: https://example.com/kind',
    '    lab: false',
    `  - text: '${SOURCE_IP}'`,
    '    backends: [userspace]',
    '    reason: relayed from the node',
    '    link: https://example.com/source-ip',
    "  - text: 'Services should serve a basic endpoint'",
    '    families: [ipv6]',
    '    reason: not on ipv6',
    '    link: https://example.com/ipv6',
  ].join('\n'),
  'e2e/skips.yaml',
);

const spec = (upstream: string, run: LabSpec['run'] = async () => undefined): LabSpec => ({ id: upstream.replace(/\W+/g, '-').slice(0, 30), upstream, source: 'service.go', run });

describe('e2e/skips.yaml in the lab', () => {
  it('a skip entry for a backend skips the lab spec of that text for that backend only, saying why and where', () => {
    const reason = 'e2e/skips.yaml:9: relayed from the node (https://example.com/source-ip)';
    expect(labSkipsFrom(suites, 'userspace', 'dual')(spec(SOURCE_IP))).toBe(reason);
    expect(labSkipsFrom(suites, 'userspace', 'ipv4')(spec(SOURCE_IP))).toBe(reason);
    expect(labSkipsFrom(suites, 'nft', 'dual')(spec(SOURCE_IP))).toBeUndefined();
    expect(labSkipsFrom(suites, 'iptables', 'ipv4')(spec(SOURCE_IP))).toBeUndefined();
  });

  it('narrows by family as the upstream runs do, and leaves out entries marked lab: false', () => {
    const basic = spec('[sig-network] Services should serve a basic endpoint from pods [Conformance]');
    expect(labSkipsFrom(suites, 'nft', 'ipv6')(basic)).toBe('e2e/skips.yaml:13: not on ipv6 (https://example.com/ipv6)');
    expect(labSkipsFrom(suites, 'nft', 'ipv4')(basic)).toBeUndefined();
    // Skipped on kind for lack of a load-balancer provider; the lab provides the ingress addresses.
    expect(labSkipsFrom(suites, 'nft', 'ipv4')(spec(LOAD_BALANCER))).toBeUndefined();
    expect(skipNotesFrom(suites)(LOAD_BALANCER, { backend: 'nft', family: 'ipv4' })?.reason).toBe('e2e/skips.yaml: kind has no load-balancer provider');
  });

  it('runSpecs reports the spec skipped with the reason without running it, and the JUnit and the parity report carry the reason and link', async () => {
    let ran = false;
    const specs = [spec(SOURCE_IP, async () => void (ran = true))];
    // A skipped spec touches nothing of the lab but its shape.
    const lab = { family: 'dual', nodes: [1, 2, 3], topology: { bridgeNetfilter: true } } as unknown as Lab;
    const lines: string[] = [];
    const results = await runSpecs(lab, specs, { skipReason: labSkipsFrom(suites, 'userspace', 'dual'), out: (line) => lines.push(line), color: false });
    expect(ran).toBe(false);
    expect(results).toEqual([expect.objectContaining({ upstream: SOURCE_IP, status: 'skipped', message: 'e2e/skips.yaml:9: relayed from the node (https://example.com/source-ip)' })]);
    expect(lines).toEqual([`[1/1] - ${specs[0]!.id} skipped: e2e/skips.yaml:9: relayed from the node (https://example.com/source-ip)`]);

    const junit = junitXml({ backend: 'userspace', family: 'dual', model: 'single-process-per-node', results, timestamp: new Date(0) });
    expect(junit).toContain('<skipped message="e2e/skips.yaml:9: relayed from the node (https://example.com/source-ip)"></skipped>');
    const passed = junitXml({ backend: 'nft', family: 'dual', model: 'single-process-per-node', results: results.map((r) => ({ ...r, status: 'passed' as const })), timestamp: new Date(0) });
    const report = parityReport(
      [
        { backend: 'nft', family: 'dual', junit: passed },
        { backend: 'userspace', family: 'dual', junit },
      ],
      { skipNote: skipNotesFrom(suites, 'lab') },
    );
    expect(report.matrix.columns.map((c) => [c.label, c.passed, c.skipped])).toEqual([
      ['nft/dual', 1, 0],
      ['userspace/dual', 0, 1],
    ]);
    expect(report.markdown).toContain(`| ${SOURCE_IP} | ✅ | ⏭️ |`);
    expect(report.matrix.rows[0]?.cells[1]?.skipNote).toEqual({ reason: 'e2e/skips.yaml: relayed from the node', link: 'https://example.com/source-ip' });
    expect(report.html).toContain('title="skipped: e2e/skips.yaml: relayed from the node"><a href="https://example.com/source-ip">');
  });

  it('the real e2e/skips.yaml leaves out, of the lab specs, what userspace and ipvs cannot pass by their nature and, outside dual, the dual-stack ones', async () => {
    const real = parseSuites(await readFile(path.join(repoRoot, 'e2e/skips.yaml'), 'utf8'));
    const skipped = (backend: string, family: 'ipv4' | 'ipv6' | 'dual') => labSpecs.filter((s) => labSkipsFrom(real, backend, family)(s) !== undefined).map((s) => s.id);
    expect(skipped('userspace', 'dual')).toEqual(['etp-local-loadbalancer', 'etp-local-from-pods', 'preserve-source-pod-ip']);
    expect(skipped('ipvs', 'dual')).toEqual(['fallback-local-terminating-etp-local']);
    for (const backend of ['nft', 'iptables']) expect(skipped(backend, 'dual'), backend).toEqual([]);
    expect(skipped('nft', 'ipv4')).toEqual(['dual-stack-secondary-http', 'dual-stack-secondary-udp']);
  });
});
