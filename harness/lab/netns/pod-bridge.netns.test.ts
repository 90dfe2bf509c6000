// A node's pod bridge keeps one MAC address while pods come and go. A Linux bridge without
// an address of its own takes the lowest address of its ports; pods that cached their
// gateway's old address then lose what they route off the node until their neighbour
// entry is re-resolved (seen as replies to other nodes vanishing for up to a minute).
import { describe, expect, it } from 'vitest';
import { parseEcho, urlFor } from './index.ts';
import { useTopology } from './testing.ts';
import { podBridgeMac } from './topology.ts';

const LOWEST = '02:00:00:00:00:01';

describe('the pod bridge of a node', () => {
  const lab = useTopology({ family: 'dual', nodes: ['node-1', 'node-2'], pods: [{ name: 'server', node: 'node-1' }] });

  async function bridgeMac(): Promise<string> {
    const [link] = JSON.parse(await lab().node('node-1').exec('ip', ['-j', 'link', 'show', 'cbr0'])) as { address: string }[];
    return link?.address ?? '';
  }

  it('has a fixed address, kept when a port with a lower address joins and leaves', async () => {
    expect(await bridgeMac()).toBe(podBridgeMac(1));
    const t = lab();
    const low = await t.addPod({ name: 'low', node: 'node-1' });
    await t.node('node-1').exec('ip', ['link', 'set', low.hostVeth, 'address', LOWEST]);
    expect(await bridgeMac()).toBe(podBridgeMac(1));
    await t.removePod('low');
    expect(await bridgeMac()).toBe(podBridgeMac(1));
  });

  it('so a pod that learned its gateway while a lower-addressed pod was there still answers other nodes once that pod is gone', async () => {
    const t = lab();
    const server = t.pod('server');
    await server.serve({ http: 8080 });
    const low = await t.addPod({ name: 'low', node: 'node-1' });
    await t.node('node-1').exec('ip', ['link', 'set', low.hostVeth, 'address', LOWEST]);
    // The server learns its gateway's address now (a bridge that follows its ports would answer with LOWEST).
    await server.exec('ip', ['neigh', 'flush', 'all']);
    for (const family of t.families) await server.httpGet(urlFor(t.node('node-1').gateway(family), 8080)).catch(() => undefined);
    await t.removePod('low');
    for (const family of t.families) {
      const { body } = await t.node('node-2').httpGet(urlFor(server.ip(family), 8080), { timeoutMs: 1_500 });
      expect(parseEcho(body).pod).toBe('server');
    }
  });
});
