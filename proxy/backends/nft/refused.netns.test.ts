// One service port the kernel refuses must not hold the node hostage: the real nft in a
// namespace of our own refuses it, the backend finds it with `nft -c`, leaves it out with a
// warning naming it, and programs every other one.
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalState, ServicePortState } from '../../model/index.ts';
import { memoryLogger } from '../../runtime/log.ts';
import { netnsRunner } from '../common/index.ts';
import { clusterCIDRs, fixtureObjectsAfterEndpointChange, fixtureState } from '../common/testing.ts';
import { NftBackend } from './backend.ts';
import { nodeView } from '../../model/index.ts';
import { changesBetween } from '../../model/testing.ts';

/** A copy of one of the fixture's service ports under another name and cluster IP, its endpoints changed by `endpoint`. */
function variant(of: ServicePortState, namespace: string, clusterIP: string, endpoint: (e: ServicePortState['clusterEndpoints'][number]) => object): ServicePortState {
  const eps = of.clusterEndpoints.map((e) => ({ ...e, ...endpoint(e) }));
  return { ...of, key: `${namespace}/svc:p`, serviceKey: `${namespace}/svc`, namespace, name: 'svc', portName: 'p', clusterIPs: [clusterIP], internalEndpoints: eps, clusterEndpoints: eps, externalEndpoints: [] };
}

const plus = (state: LocalState, ...ports: ServicePortState[]): LocalState => ({ node: state.node, servicePorts: new Map([...state.servicePorts, ...ports.map((p) => [p.key, p] as const)]) });

/** A table listing as a sorted list of lines, elements one a line: equal for equal tables. */
const lines = (listing: string) =>
  listing
    .replace(/elements = \{([^}]*)\}/g, (_m, els: string) => els.split(',').map((e) => `element ${e.trim()}`).join('\n'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .sort();

describe('nftables: a service port the kernel refuses is left out, the rest programmed', () => {
  const names = [`kpng-ref-${randomBytes(4).toString('hex')}`, `kpng-ref-${randomBytes(4).toString('hex')}`] as const;
  beforeAll(async () => {
    for (const ns of names) await execa('ip', ['netns', 'add', ns]);
  });
  afterAll(async () => {
    for (const ns of names) await execa('ip', ['netns', 'del', ns], { reject: false });
  });
  const [nodeNS, referenceNS] = names;
  const list = async (ns: string) => {
    const r = await netnsRunner(ns)('nft', ['list', 'table', 'ip', 'kpng']);
    expect(r.exitCode, r.stderr).toBe(0);
    return r.stdout;
  };
  /** The table a sync of `state` makes on a fresh node. */
  const reference = async (state: LocalState) => {
    const b = new NftBackend({ logger: memoryLogger(), clusterCIDRs, run: netnsRunner(referenceNS), families: ['IPv4'] });
    await b.sync(nodeView(state), undefined);
    b.dispose();
    return lines(await list(referenceNS));
  };

  const good = fixtureState();
  const svc10 = good.servicePorts.get('ns10/svc10')!;
  // A port the kernel refuses (no port 70000), and one whose endpoint is no IP: the model makes neither.
  const refused = variant(svc10, 'refused', '172.30.0.98', () => ({ port: 70000 }));
  const notIP = variant(svc10, 'not-ip', '172.30.0.99', () => ({ address: '10.180.0.12 ; flush ruleset' }));

  it('the good Services are in the kernel, the bad ones named in a warning and left out; later syncs stay partial; a fixed port comes back', async () => {
    const logger = memoryLogger();
    const b = new NftBackend({ logger, clusterCIDRs, run: netnsRunner(nodeNS), families: ['IPv4'] });
    try {
      const s1 = plus(good, refused, notIP);
      const stats = await b.sync(nodeView(s1), undefined);
      expect(stats).toMatchObject({ full: true, mode: 'replace', leftOut: ['not-ip/svc:p', 'refused/svc:p'], refusedTransactions: 1 });
      const listing = await list(nodeNS);
      expect(lines(listing)).toEqual(await reference(good));
      expect(listing).not.toMatch(/172\.30\.0\.9[89]|refused\/svc|not-ip\/svc/);
      const warnings = logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
      expect(warnings).toContainEqual(expect.stringMatching(/^KPNG_ERR_SERVICE_PORT_REFUSED: left out service port "refused\/svc:p": nft refused its rules: .*Error: .*/));
      expect(warnings).toContainEqual(expect.stringMatching(/^KPNG_ERR_SERVICE_PORT_REFUSED: left out service port "not-ip\/svc:p": internalEndpoints: "10.180.0.12 ; flush ruleset" is not an IPv4 address/));

      const after = fixtureState(fixtureObjectsAfterEndpointChange());
      const s2 = plus(after, refused, notIP);
      const next = await b.sync(nodeView(s2), changesBetween(s1, s2));
      expect(next).toMatchObject({ full: false, mode: 'partial', leftOut: ['not-ip/svc:p', 'refused/svc:p'] });
      expect(next.refusedTransactions).toBeUndefined();
      expect(lines(await list(nodeNS))).toEqual(await reference(after));

      const fixed = variant(svc10, 'refused', '172.30.0.98', () => ({}));
      const s3 = plus(after, fixed, notIP);
      const last = await b.sync(nodeView(s3), changesBetween(s2, s3));
      expect(last.leftOut).toEqual(['not-ip/svc:p']);
      expect(await list(nodeNS)).toContain('172.30.0.98 . udp . 53 : goto service-');
    } finally {
      b.dispose();
    }
  });

  it('a refusal that is no service port’s doing still fails the sync, and the table in place stays', async () => {
    const before = lines(await list(nodeNS));
    const b = new NftBackend({ logger: memoryLogger(), clusterCIDRs, run: netnsRunner(nodeNS), families: ['IPv4'], transformTransaction: (text) => `${text}delete element ip kpng service-ips { 10.99.99.99 . tcp . 1 }\n` });
    await expect(b.sync(nodeView(good), undefined)).rejects.toThrow(/KPNG_ERR_NFT_TRANSACTION/);
    expect(lines(await list(nodeNS))).toEqual(before);
    b.dispose();
  });
});
