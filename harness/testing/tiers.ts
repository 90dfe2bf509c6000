// Which test tiers can run on this machine. Used by vitest.config.ts; pure apart from
// reading the environment and probing for binaries, so it can be tested.
import { haveK8sBinaries, type K8sBinary } from '../k8s-binaries.ts';

/** What the e2e tier runs: `hack/k8s-binaries.sh --only cluster,e2e.test,ginkgo`. */
const E2E_BINARIES: K8sBinary[] = ['etcd', 'kube-apiserver', 'kubectl', 'kube-proxy', 'kubelet', 'kube-controller-manager', 'kube-scheduler', 'agnhost', 'regression-issue-74839', 'coredns', 'e2e.test', 'ginkgo'];

export interface Tier {
  name: 'unit' | 'netns' | 'cluster' | 'suite' | 'lab' | 'e2e-cluster' | 'e2e';
  include: string[];
  exclude: string[];
  testTimeout: number;
  fileParallelism: boolean;
  globalSetup: string[];
  /** Tiers run in groups, lowest first; one group runs at a time (vitest's sequence.groupOrder). */
  groupOrder: number;
  /** Runs only when asked for by name (--project), never as part of every tier. */
  optIn?: boolean;
}

export interface TierEnvironment {
  ci: boolean;
  uid: number;
  /** Whether etcd and kube-apiserver are cached for the pinned Kubernetes version. */
  haveControlPlaneBinaries: boolean;
  /** Whether e2e.test and ginkgo are cached for the pinned Kubernetes version. */
  haveSuiteBinaries: boolean;
  /** Whether the netns cluster's kubelet, kube-controller-manager and kube-scheduler are cached. */
  haveClusterBinaries?: boolean;
  /** Whether everything the upstream e2e suite needs on a netns cluster is cached: the cluster's binaries, its images' (agnhost, coredns, ...), e2e.test and ginkgo. */
  haveE2eBinaries?: boolean;
  /** Which tiers were asked for on the command line (--project); empty = all. */
  requested: string[];
  warn: (line: string) => void;
}

const common = ['node_modules/**', 'dist/**', '.cache/**'];

export const tiers: Tier[] = [
  {
    name: 'unit',
    include: ['{proxy,harness,hack,e2e}/**/*.test.ts'],
    exclude: [...common, '**/*.netns.test.ts', '**/*.cluster.test.ts', '**/*.suite.test.ts', '**/*.lab.test.ts', '**/*.e2e-cluster.test.ts', '**/*.e2e.test.ts'],
    testTimeout: 10_000,
    fileParallelism: true,
    globalSetup: [],
    groupOrder: 0,
  },
  {
    name: 'netns',
    include: ['{proxy,harness,e2e}/**/*.netns.test.ts'],
    exclude: common,
    testTimeout: 60_000,
    fileParallelism: true,
    globalSetup: [],
    groupOrder: 0,
  },
  {
    name: 'cluster',
    include: ['{proxy,harness,e2e}/**/*.cluster.test.ts'],
    exclude: common,
    testTimeout: 120_000,
    fileParallelism: false,
    globalSetup: [],
    groupOrder: 0,
  },
  {
    // The lab (harness/lab): the netns and cluster tiers together, whole clusters under
    // test. After the other tiers, alone, so that its convergence deadlines are not
    // spent waiting for a CPU.
    name: 'lab',
    include: ['{harness,e2e}/**/*.lab.test.ts'],
    exclude: common,
    testTimeout: 600_000,
    fileParallelism: false,
    globalSetup: [],
    groupOrder: 1,
  },
  {
    // The upstream suite's own binaries (e2e.test, ginkgo): spec lists, dry runs, their JUnit.
    name: 'suite',
    include: ['{proxy,harness,e2e}/**/*.suite.test.ts'],
    exclude: common,
    testTimeout: 120_000,
    fileParallelism: false,
    globalSetup: [],
    groupOrder: 0,
  },
  {
    // Whole Kubernetes clusters without Docker (harness/cluster/netns): real kubelets and
    // containerd in node namespaces. Opt-in (make test-e2e-cluster): it needs binaries
    // `make test` does not build, and minutes.
    name: 'e2e-cluster',
    include: ['{proxy,harness,e2e}/**/*.e2e-cluster.test.ts'],
    exclude: common,
    testTimeout: 600_000,
    fileParallelism: false,
    globalSetup: [],
    groupOrder: 2,
    optIn: true,
  },
  {
    // The upstream e2e suite on netns clusters (make test-e2e): the `[sig-network] Services
    // ... [Conformance]` specs for kube-proxy, then kpng's iptables and nft, through the
    // path `make e2e cluster=netns` takes. Last and alone: its specs have deadlines, and it
    // takes minutes per backend.
    name: 'e2e',
    include: ['{proxy,harness,e2e}/**/*.e2e.test.ts'],
    exclude: common,
    testTimeout: 75 * 60_000,
    fileParallelism: false,
    globalSetup: [],
    groupOrder: 3,
  },
];

/** Why a tier cannot run here, or undefined when it can. */
export function missingFor(tier: Tier['name'], env: TierEnvironment): string | undefined {
  if (tier === 'netns' && env.uid !== 0) return 'needs root (network namespaces, iptables, nft)';
  if (tier === 'cluster' && !env.haveControlPlaneBinaries) {
    return 'needs etcd and kube-apiserver: run `make k8s-binaries`';
  }
  if (tier === 'suite' && !env.haveSuiteBinaries) {
    return 'needs e2e.test and ginkgo: run `hack/k8s-binaries.sh --only e2e.test,ginkgo` (or `make k8s-binaries`)';
  }
  if (tier === 'lab' && env.uid !== 0) return 'needs root (network namespaces, iptables, nft)';
  if (tier === 'lab' && !env.haveControlPlaneBinaries) return 'needs etcd and kube-apiserver: run `make k8s-binaries`';
  if (tier === 'e2e-cluster' && env.uid !== 0) return 'needs root (network namespaces, cgroups, mounts)';
  if (tier === 'e2e-cluster' && env.haveClusterBinaries === false) return 'needs kubelet, kube-controller-manager, kube-scheduler: run `hack/k8s-binaries.sh --only cluster`';
  if (tier === 'e2e' && env.uid !== 0) return 'needs root (network namespaces, cgroups, mounts)';
  if (tier === 'e2e' && env.haveE2eBinaries === false) return 'needs the netns cluster\'s binaries, e2e.test and ginkgo: run `hack/k8s-binaries.sh --only cluster,e2e.test,ginkgo`';
  return undefined;
}

export function planTiers(env: TierEnvironment): Tier[] {
  return tiers.filter((tier) => {
    if (env.requested.length > 0 && !env.requested.includes(tier.name)) return false;
    if (tier.optIn && !env.requested.includes(tier.name)) return false;
    const missing = missingFor(tier.name, env);
    if (missing === undefined) return true;
    if (env.ci) {
      env.warn(`!!! ${tier.name} tier ${missing}; CI=true, so it runs anyway and will fail`);
      return true;
    }
    env.warn(`!!! SKIPPING the ${tier.name} tier: it ${missing}`);
    return false;
  });
}

function requestedProjects(argv: string[]): string[] {
  const out: string[] = [];
  argv.forEach((arg, i) => {
    if (arg === '--project') out.push(argv[i + 1] ?? '');
    else if (arg.startsWith('--project=')) out.push(arg.slice('--project='.length));
  });
  return out;
}

export function tierPlan(): Tier[] {
  return planTiers({
    ci: process.env.CI === 'true' || process.env.CI === '1',
    uid: process.getuid?.() ?? -1,
    haveControlPlaneBinaries: haveK8sBinaries(['etcd', 'kube-apiserver']),
    haveSuiteBinaries: haveK8sBinaries(['e2e.test', 'ginkgo']),
    haveClusterBinaries: haveK8sBinaries(['etcd', 'kube-apiserver', 'kubectl', 'kubelet', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy']),
    haveE2eBinaries: haveK8sBinaries(E2E_BINARIES),
    requested: requestedProjects(process.argv),
    warn: (line) => process.stderr.write(`${line}\n`),
  });
}
