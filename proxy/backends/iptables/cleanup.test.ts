import { describe, expect, it } from 'vitest';
import { planCleanup } from './cleanup.ts';
import { renderIptables } from './render.ts';
import { Ruleset } from './rules.ts';
import { clusterCIDRs, fixtureState } from './testing.ts';
import { nodeView } from '../../model/index.ts';

describe('cleanup plan', () => {
  it('removes every chain and jump rule a sync created, and nothing else', () => {
    const kernel = new Ruleset().apply(
      ['*filter', ':DOCKER - [0:0]', '-A INPUT -p tcp --dport 22 -j ACCEPT', '-A FORWARD -j DOCKER', 'COMMIT', '*nat', '-A POSTROUTING -s 172.17.0.0/16 -j MASQUERADE', 'COMMIT', ''].join('\n'),
    );
    const foreign = kernel.save();
    kernel.apply(renderIptables(nodeView(fixtureState()), { family: 'IPv4', clusterCIDRs }).text);
    const plan = planCleanup(kernel.save());
    expect(plan.kept).toEqual([]);
    expect(plan.unlinked).toBe(14);
    expect(plan.deleted).toContain('mangle/KUBE-PROXY-CANARY');
    expect(plan.deleted).toContain('nat/KUBE-SVC-XPGD46QRK7WJZT7O');
    kernel.apply(plan.text);
    // Back to exactly what was there before (the mangle table, now empty, aside).
    expect(kernel.save(['filter', 'nat'])).toBe(new Ruleset().apply(foreign).save(['filter', 'nat']));
    expect(planCleanup(kernel.save()).text).toBe('');
  });

  it('leaves a chain alone when someone else’s rule still jumps to it', () => {
    const kernel = new Ruleset().apply(renderIptables(nodeView(fixtureState()), { family: 'IPv4', clusterCIDRs }).text);
    kernel.apply(['*nat', ':CNI-HOSTPORT-SETMARK - [0:0]', '-A CNI-HOSTPORT-SETMARK -j KUBE-MARK-MASQ', 'COMMIT', ''].join('\n'));
    const plan = planCleanup(kernel.save());
    expect(plan.kept).toEqual(['nat/KUBE-MARK-MASQ']);
    kernel.apply(plan.text);
    expect(kernel.hasChain('nat', 'KUBE-MARK-MASQ')).toBe(true);
    expect(kernel.rules('nat', 'KUBE-MARK-MASQ')).toHaveLength(1);
    expect(kernel.hasChain('nat', 'KUBE-SERVICES')).toBe(false);
  });
});
