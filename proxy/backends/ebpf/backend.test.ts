import { describe, expect, it } from 'vitest';
import { nodeView } from '../../model/index.ts';
import { changesBetween } from '../../model/testing.ts';
import { memoryLogger } from '../../runtime/log.ts';
import { fixtureObjectsAfterEndpointChange, fixtureState } from '../common/testing.ts';
import { EbpfBackend } from './backend.ts';
import { createEbpfBackend, ebpfBackend } from './index.ts';

describe('EbpfBackend --dry-run', () => {
  it('prints the map contents and the nft table it would write, runs no tool, and then only the changed entries', async () => {
    const printed: string[] = [];
    const ran: string[] = [];
    const b = new EbpfBackend({
      logger: memoryLogger(),
      dryRun: true,
      pinPath: '/sys/fs/bpf/kpng',
      print: (t) => printed.push(t),
      runner: async (file) => {
        ran.push(file);
        return { exitCode: 0, stdout: '', stderr: '' };
      },
    });
    await b.setup();
    const state = fixtureState();
    const full = await b.sync(nodeView(state), undefined);
    expect(full.full).toBe(true);
    expect(printed[0]).toMatch(/^# kpng ebpf: \d+ map operation\(s\), full sync\n/);
    expect(printed[0]).toContain('map update pinned /sys/fs/bpf/kpng/maps/kpng_svc4 key hex ac 1e 00 29 00 50 06 00 value hex ');
    expect(printed[0]).toContain('map update pinned /sys/fs/bpf/kpng/maps/kpng_svc6 key hex fd 00 00 30');
    expect(printed[1]).toMatch(/^# kpng ebpf: table inet kpng-ebpf, full sync, for nft -f -\nadd table inet kpng-ebpf\ndelete table inet kpng-ebpf\n/);
    expect(printed[1]).toMatch(/^add element inet kpng-ebpf external4 \{ 192\.168\.99\.22 \. tcp \. 80 : goto ext4-/m);
    const next = fixtureState(fixtureObjectsAfterEndpointChange());
    const partial = await b.sync(nodeView(next), changesBetween(state, next));
    expect(partial).toMatchObject({ full: false, ops: 2, nftLines: 0 });
    expect(printed[2]!.split('\n').filter((l) => l.startsWith('map '))).toHaveLength(2);
    expect(printed[3]).toBe('# kpng ebpf: table inet kpng-ebpf, partial sync, for nft -f -\n');
    expect(ran).toEqual([]);
  });

  it('the backend is ebpf (/proxyMode ebpf), and refuses an unknown family naming what is accepted', () => {
    expect(ebpfBackend.name).toBe('ebpf');
    expect(ebpfBackend.proxyMode).toBe('ebpf');
    expect(createEbpfBackend({ 'dry-run': true }, { logger: memoryLogger() }).name).toBe('ebpf');
    expect(() => createEbpfBackend({ 'ip-families': ['IPv5'] }, { logger: memoryLogger() })).toThrow(/^KPNG_ERR_EBPF_SETUP: --ip-families=IPv5: accepted: IPv4, IPv6/);
    expect(() => createEbpfBackend({ 'nodeport-addresses': ['10.0.0.0/33'] }, { logger: memoryLogger() })).toThrow(/^KPNG_ERR_EBPF_SETUP: --nodeport-addresses=10\.0\.0\.0\/33: accepted: CIDRs and\/or "primary"/);
    expect(() => createEbpfBackend({ 'masquerade-bit': 32 }, { logger: memoryLogger() })).toThrow(/^KPNG_ERR_EBPF_SETUP: --masquerade-bit=32: accepted: an integer 0-31/);
  });
});
