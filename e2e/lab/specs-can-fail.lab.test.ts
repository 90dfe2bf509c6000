// The suite's own proof that its specs can fail: in one running lab (iptables, IPv4),
// each spec passes while the proxy's rules are intact, and fails, saying what went wrong,
// once its behaviour is broken on one node behind the proxy's back.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../harness/lab/cluster/index.ts';
import { runSpecs, type LabSpec, type SpecContext, type SpecResult } from '../../harness/lab/suite/index.ts';
import { affinityClusterIP } from './affinity.ts';
import { deleteAffinityRules, deleteRejectRules, masqueradeExternalTraffic } from './breakers.ts';
import { rejectedWithoutEndpoints } from './services.ts';
import { etpLocalLoadBalancer } from './traffic-policy.ts';

// Broken specs fail at their deadline: keep it short here (the suite's default is 30 s).
const LAG_TIMEOUT_MS = 8_000;

describe('the lab specs fail when the behaviour they check is broken', () => {
  let lab: Lab;
  let diagnostics: string;
  const lines: string[] = [];

  beforeAll(async () => {
    diagnostics = await mkdtemp(path.join(tmpdir(), 'kpng-lab-failures-'));
    lab = await Lab.start({ backend: 'iptables', family: 'ipv4', nodes: 3 });
  });
  afterAll(async () => {
    await lab?.destroy();
    await rm(diagnostics, { recursive: true, force: true });
  });

  async function run(spec: LabSpec, beforeTraffic?: (ctx: SpecContext) => Promise<void>): Promise<SpecResult> {
    const [result] = await runSpecs(lab, [spec], {
      out: (line) => lines.push(line),
      color: false,
      lagTimeoutMs: LAG_TIMEOUT_MS,
      diagnosticsDir: diagnostics,
      ...(beforeTraffic && { hooks: { beforeTraffic } }),
    });
    if (!result) throw new Error(`no result for ${spec.id}`);
    return result;
  }

  it('session affinity: passes, then fails once the node of the client forgets the affinity rules', async () => {
    expect(await run(affinityClusterIP), lines.join('\n')).toMatchObject({ status: 'passed' });
    let deleted = 0;
    const broken = await run(affinityClusterIP, async (ctx) => {
      deleted = await deleteAffinityRules(ctx, ctx.nodes[0]!, 'affinity-clusterip:http', 3);
    });
    expect(deleted, JSON.stringify(broken)).toBe(3);
    expect(broken.status).toBe('failed');
    expect(broken.message).toMatch(/^session affinity: 15 requests in a row from \S+ answered by one pod: still not so after 8 s .*last: answered by affinity-clusterip-\d ×\d+, affinity-clusterip-\d ×\d+/);
  });

  it('externalTrafficPolicy=Local: passes, then fails once the endpoint node masquerades the client', async () => {
    expect(await run(etpLocalLoadBalancer), lines.join('\n')).toMatchObject({ status: 'passed' });
    const broken = await run(etpLocalLoadBalancer, async (ctx) => {
      await masqueradeExternalTraffic(ctx, ctx.nodes[0]!, 'external-local-lb:http', ctx.externalAddress(21));
    });
    const client = lab.clients[0]!.ip();
    expect(broken.status).toBe('failed');
    expect(broken.message).toContain(`answered by external-local-lb-1 seeing source ${client}: still not so after 8 s`);
    expect(broken.message).toMatch(new RegExp(`last: external-local-lb-1 saw source 10\\.244\\.1\\.1, not ${client.replace(/\./g, '\\.')}\n`));
  });

  it('rejected without endpoints: passes, then fails once the node of the client drops instead of rejecting', async () => {
    expect(await run(rejectedWithoutEndpoints), lines.join('\n')).toMatchObject({ status: 'passed' });
    let deleted = 0;
    const node = lab.nodes[lab.nodes.length - 1]!;
    const broken = await run(rejectedWithoutEndpoints, async (ctx) => {
      deleted = await deleteRejectRules(ctx, node, 'no-pods:http');
    });
    expect(deleted).toBe(1);
    expect(broken.status).toBe('failed');
    expect(broken.message).toMatch(/^\S+ → tcp 10\.96\.\d+\.\d+:80 failing with refused: still not so after 8 s .*last: failed with (timeout|unreachable)/);
    // What the node looked like at the failure is kept, and the message says where.
    const dir = path.join(diagnostics, 'rejected-without-endpoints');
    expect(broken.message).toContain(`(node state at the failure: ${dir})`);
    const nodeState = readFileSync(path.join(dir, `${node.name}.txt`), 'utf8');
    expect(nodeState).toContain('==== iptables-nft-save');
    expect(nodeState).toContain('no-pods:udp has no endpoints');
    expect(nodeState).not.toContain('no-pods:http has no endpoints');
    expect(existsSync(path.join(dir, 'pods.txt'))).toBe(true);
  });
});
