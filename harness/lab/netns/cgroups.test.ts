import { describe, expect, it } from 'vitest';
import { RUN_CGROUP_PATTERN, cgroup2Mount, nodeStateDir, runCgroupName } from './cgroups.ts';
import { nodeCgroupsUnavailable, whyNotConfined } from './scope.ts';

const hybrid = 'tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n';
const v1only = 'tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n';

describe('node cgroups: where they go', () => {
  it('finds the cgroup2 mount (a hybrid host’s unified one, a cgroup2-only host’s /sys/fs/cgroup), or says there is none', () => {
    expect(cgroup2Mount(hybrid)).toBe('/sys/fs/cgroup/unified');
    expect(cgroup2Mount('cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n')).toBe('/sys/fs/cgroup');
    expect(cgroup2Mount(v1only)).toBeUndefined();
    expect(nodeCgroupsUnavailable(hybrid)).toBeUndefined();
    expect(nodeCgroupsUnavailable(v1only)).toMatch(/no cgroup2 file system mounted/);
  });

  it('names a run’s folder after its prefix, which a sweep recognises, and nothing else', () => {
    expect(runCgroupName('kt3f09-')).toBe('kpng-kt3f09');
    expect(RUN_CGROUP_PATTERN.exec('kpng-kt3f09')?.[1]).toBe('kt3f09');
    for (const other of ['kpng-ebpf-a1b2c3', 'system.slice', 'kpng-kt3f09x', 'kt3f09']) expect(RUN_CGROUP_PATTERN.test(other), other).toBe(false);
    expect(() => runCgroupName('system.slice')).toThrow(/not a lab prefix/);
  });

  it('puts a node’s state folder below the root its backend names, never at or above it', () => {
    expect(nodeStateDir('/sys/fs/bpf', 'kt3f09-', 'node-a')).toBe('/sys/fs/bpf/kt3f09-node-a');
    for (const bad of ['/', 'sys/fs/bpf', '/sys/fs/bpf/../..']) expect(() => nodeStateDir(bad, 'kt3f09-', 'node-a'), bad).toThrow(/KPNG_ERR_NETNS_CGROUP/);
  });

  it('keeps a network-namespace backend to its node always, a cgroup-scoped one only where nodes can have a cgroup each', () => {
    const hooks = { kind: 'cgroup', cgroupFlag: 'cgroup-path', stateFlag: { name: 'pin-path', under: '/sys/fs/bpf' } } as const;
    expect(whyNotConfined({ kind: 'network-namespace' }, { nodeCgroupsMissing: 'none here' })).toBeUndefined();
    expect(whyNotConfined(hooks, { nodeCgroupsMissing: undefined })).toBeUndefined();
    expect(whyNotConfined(hooks, { nodeCgroupsMissing: 'none here' })).toMatch(/\(--cgroup-path\).*below \/sys\/fs\/bpf \(--pin-path\), and none here; started with its defaults it would hook the cgroup2 root/);
  });
});
