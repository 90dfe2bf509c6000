import { describe, expect, it } from 'vitest';
import { planTiers, type TierEnvironment } from './tiers.ts';

function plan(over: Partial<TierEnvironment>) {
  const warnings: string[] = [];
  const env: TierEnvironment = { ci: false, uid: 0, haveControlPlaneBinaries: true, haveSuiteBinaries: true, requested: [], warn: (l) => warnings.push(l), ...over };
  return { names: planTiers(env).map((t) => t.name), warnings };
}

describe('planTiers', () => {
  it('runs every tier when the machine has what each needs', () => {
    expect(plan({})).toEqual({ names: ['unit', 'netns', 'cluster', 'lab', 'suite', 'e2e'], warnings: [] });
  });

  it('leaves out the suite tier without e2e.test and ginkgo, in one loud line saying how to get them', () => {
    expect(plan({ haveSuiteBinaries: false })).toEqual({
      names: ['unit', 'netns', 'cluster', 'lab', 'e2e'],
      warnings: ['!!! SKIPPING the suite tier: it needs e2e.test and ginkgo: run `hack/k8s-binaries.sh --only e2e.test,ginkgo` (or `make k8s-binaries`)'],
    });
  });

  it('under CI=true runs it anyway, so that it fails', () => {
    const { names, warnings } = plan({ ci: true, haveSuiteBinaries: false, haveControlPlaneBinaries: false });
    expect(names).toEqual(['unit', 'netns', 'cluster', 'lab', 'suite', 'e2e']);
    expect(warnings).toEqual([
      '!!! cluster tier needs etcd and kube-apiserver: run `make k8s-binaries`; CI=true, so it runs anyway and will fail',
      '!!! lab tier needs etcd and kube-apiserver: run `make k8s-binaries`; CI=true, so it runs anyway and will fail',
      '!!! suite tier needs e2e.test and ginkgo: run `hack/k8s-binaries.sh --only e2e.test,ginkgo` (or `make k8s-binaries`); CI=true, so it runs anyway and will fail',
    ]);
  });

  it('leaves out the lab tier when not root, like the netns tier', () => {
    expect(plan({ uid: 1000 })).toEqual({
      names: ['unit', 'cluster', 'suite'],
      warnings: [
        '!!! SKIPPING the netns tier: it needs root (network namespaces, iptables, nft)',
        '!!! SKIPPING the lab tier: it needs root (network namespaces, iptables, nft)',
        '!!! SKIPPING the e2e tier: it needs root (network namespaces, cgroups, mounts)',
      ],
    });
  });

  it('runs the e2e-cluster tier only when asked for by name, and says what it lacks', () => {
    expect(plan({}).names).not.toContain('e2e-cluster');
    expect(plan({ requested: ['e2e-cluster'] }).names).toEqual(['e2e-cluster']);
    expect(plan({ requested: ['e2e-cluster'], haveClusterBinaries: false })).toEqual({
      names: [],
      warnings: ['!!! SKIPPING the e2e-cluster tier: it needs kubelet, kube-controller-manager, kube-scheduler: run `hack/k8s-binaries.sh --only cluster`'],
    });
  });

  it('runs the e2e tier (upstream specs on netns clusters) in every run, last and alone, and says what it lacks', () => {
    const e2e = planTiers({ ci: false, uid: 0, haveControlPlaneBinaries: true, haveSuiteBinaries: true, requested: [], warn: () => {} }).find((t) => t.name === 'e2e');
    expect(e2e).toMatchObject({ include: ['{proxy,harness,e2e}/**/*.e2e.test.ts'], fileParallelism: false, groupOrder: 3 });
    expect(e2e?.optIn).toBeUndefined();
    expect(plan({ requested: ['e2e'] }).names).toEqual(['e2e']);
    expect(plan({ haveE2eBinaries: false })).toEqual({
      names: ['unit', 'netns', 'cluster', 'lab', 'suite'],
      warnings: ["!!! SKIPPING the e2e tier: it needs the netns cluster's binaries, e2e.test and ginkgo: run `hack/k8s-binaries.sh --only cluster,e2e.test,ginkgo`"],
    });
    expect(plan({ ci: true, haveE2eBinaries: false })).toEqual({
      names: ['unit', 'netns', 'cluster', 'lab', 'suite', 'e2e'],
      warnings: ["!!! e2e tier needs the netns cluster's binaries, e2e.test and ginkgo: run `hack/k8s-binaries.sh --only cluster,e2e.test,ginkgo`; CI=true, so it runs anyway and will fail"],
    });
  });

  it("keeps the e2e tier's files out of the unit tier", () => {
    const tiers = planTiers({ ci: false, uid: 0, haveControlPlaneBinaries: true, haveSuiteBinaries: true, requested: [], warn: () => {} });
    expect(tiers.find((t) => t.name === 'unit')?.exclude).toContain('**/*.e2e.test.ts');
  });

  it('keeps the suite tier apart from the unit tier', () => {
    expect(plan({ requested: ['unit'] }).names).toEqual(['unit']);
    expect(plan({ requested: ['suite'] }).names).toEqual(['suite']);
  });
});
