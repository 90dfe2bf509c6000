import { describe, expect, it } from 'vitest';
import type { LocalNode } from '../model/index.ts';
import { memoryLogger } from './log.ts';
import { ProxyMetrics } from './metrics.ts';
import { NodeWatch } from './node-watch.ts';

const node = (known: boolean): LocalNode => ({ name: 'node-x', labels: {}, addresses: [], known, deleting: false, toBeDeleted: false });

async function gauge(m: ProxyMetrics): Promise<string | undefined> {
  return /^kpng_node_known (\S+)$/m.exec(await m.registry.metrics())?.[1];
}

describe('NodeWatch', () => {
  it('warns once when --node-name matches no Node, again only when it stops matching, and keeps kpng_node_known in step', async () => {
    const logger = memoryLogger();
    const metrics = new ProxyMetrics({ backend: 'nft', families: ['IPv4'], processMetrics: false });
    const watch = new NodeWatch({ logger, gauge: metrics });
    expect(await gauge(metrics)).toBe('0');

    for (let i = 0; i < 5; i++) watch.observe(node(false)); // five syncs, one warning
    expect(logger.lines.map((l) => [l.level, l.msg.split(':')[0]])).toEqual([['warn', 'KPNG_ERR_NODE_UNKNOWN']]);
    expect(logger.lines[0]?.msg).toMatch(/--node-name "node-x" matches no Node object: .*kubectl get nodes/);
    expect(await gauge(metrics)).toBe('0');

    watch.observe(node(true));
    watch.observe(node(true));
    expect(await gauge(metrics)).toBe('1');
    expect(logger.lines.slice(1).map((l) => [l.level, l.msg])).toEqual([['info', 'node "node-x" is known now']]);

    watch.observe(node(false)); // the Node was deleted
    expect(logger.lines.at(-1)?.msg).toMatch(/^KPNG_ERR_NODE_UNKNOWN: --node-name "node-x" matches no Node object any more/);
    expect(logger.lines).toHaveLength(3);
    expect(await gauge(metrics)).toBe('0');
  });

  it('says nothing for a node that is known from the start', async () => {
    const logger = memoryLogger();
    const metrics = new ProxyMetrics({ backend: 'iptables', families: ['IPv4'], processMetrics: false });
    const watch = new NodeWatch({ logger, gauge: metrics });
    watch.observe(node(true));
    expect(logger.lines).toEqual([]);
    expect(await gauge(metrics)).toBe('1');
  });
});
