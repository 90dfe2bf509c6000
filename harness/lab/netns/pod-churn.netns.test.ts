// Pods coming and going on a node leave nobody with a wrong MAC address cached:
// - the pod bridge keeps one address (a Linux bridge without an address of its own takes
//   the lowest address of its ports; pods that cached their gateway's old address then
//   lose what they route off the node until their neighbour entry is re-resolved);
// - a new pod does not get the address of a pod just removed (the node would go on
//   sending to the removed pod's MAC address: the new pod gets nothing until then).
import { describe, expect, it } from 'vitest';
import { parseEcho, urlFor } from './index.ts';
import { useTopology } from './testing.ts';
import { podBridgeMac } from './topology.ts';

const LOWEST = '02:00:00:00:00:01';

describe('pods coming and going on a node', () => {
  const lab = useTopology({ family: 'dual', nodes: ['node-1', 'node-2'], pods: [{ name: 'server', node: 'node-1' }] });

  async function bridgeMac(): Promise<string> {
    const [link] = JSON.parse(await lab().node('node-1').exec('ip', ['-j', 'link', 'show', 'cbr0'])) as { address: string }[];
    return link?.address ?? '';
  }

  it('leave the pod bridge its fixed address, kept when a port with a lower address joins and leaves', async () => {
    expect(await bridgeMac()).toBe(podBridgeMac(1));
    const t = lab();
    const low = await t.addPod({ name: 'low', node: 'node-1' });
    await t.node('node-1').exec('ip', ['link', 'set', low.hostVeth, 'address', LOWEST]);
    expect(await bridgeMac()).toBe(podBridgeMac(1));
    await t.removePod('low');
    expect(await bridgeMac()).toBe(podBridgeMac(1));
  });

  it('so that a pod that learned its gateway while a lower-addressed pod was there still answers other nodes once that pod is gone', async () => {
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

  it('do not hand a removed pod\'s address to the next pod, which answers its node and other nodes at once', async () => {
    const t = lab();
    const gone = await t.addPod({ name: 'gone', node: 'node-1' });
    await gone.serve({ http: 8080 });
    // The node caches the pod's MAC address for its IPs.
    for (const family of t.families) await t.node('node-1').httpGet(urlFor(gone.ip(family), 8080));
    const oldIps = gone.ips;
    await t.removePod('gone');
    const next = await t.addPod({ name: 'next', node: 'node-1' });
    expect(next.ips.filter((ip) => oldIps.includes(ip))).toEqual([]);
    await next.serve({ http: 8080 });
    for (const family of t.families) {
      for (const from of [t.node('node-1'), t.node('node-2')]) {
        const { body } = await from.httpGet(urlFor(next.ip(family), 8080), { timeoutMs: 1_500 });
        expect(parseEcho(body).pod).toBe('next');
      }
    }
    await t.removePod('next');
  });
});
