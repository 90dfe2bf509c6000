import { describe, expect, it } from 'vitest';
import { KpngError, backendNames, proxyBackends, useProxyBackends, type ProxyBackend } from '../config/index.ts';
import { labBackends, type LabHost } from '../lab/cluster/index.ts';
import { parseLabArgs } from './lab.ts';

/** A backend as `kpng backends --json` prints one. */
const described = (name: string, proof: string, scope: ProxyBackend['scope']): ProxyBackend => ({
  name,
  stage: `to-${name}`,
  proxyMode: name,
  summary: `${name}, registered by this test only`,
  flags: [],
  metrics: { family: name, failures: 'none', failureCounters: [] },
  pod: { privileged: false, capabilities: [], reason: 'none', hostMounts: [], packages: [] },
  proof,
  scope,
  subjects: [{ id: name, title: name, args: [] }],
});

const netns = described('rules', 'runs', { kind: 'network-namespace' });
const traced = described('traced', 'rendered-and-traced', { kind: 'network-namespace' });
const hooks = described('hooks', 'runs', { kind: 'cgroup', cgroupFlag: 'cgroup-path', stateFlag: { name: 'pin-path', under: '/sys/fs/bpf' } });
const withoutNodeCgroups: LabHost = { nodeCgroupsMissing: 'this host has no cgroup2 file system' };
const withNodeCgroups: LabHost = { nodeCgroupsMissing: undefined };

function refusal(fn: () => unknown): KpngError {
  try {
    fn();
  } catch (error) {
    if (error instanceof KpngError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('the backends a lab run takes', () => {
  const withFakes = <T>(fn: () => T): T => {
    const restore = useProxyBackends([netns, traced, hooks]);
    try {
      return fn();
    } finally {
      restore();
    }
  };

  it('by default: those that start on this kernel and that the lab can keep to one node, naming the others with why', () => {
    const log: string[] = [];
    expect(withFakes(() => labBackends(undefined, (l) => log.push(l), withoutNodeCgroups))).toEqual(['rules']);
    expect(log).toEqual([
      expect.stringMatching(/^==> the lab leaves out traced: its proof is rendered-and-traced: this kernel lacks what it drives, so it cannot start here/),
      expect.stringMatching(/^==> the lab leaves out hooks: it hooks the sockets of a cgroup's processes, not a network namespace, .*this host has no cgroup2 file system; started with its defaults it would hook the cgroup2 root, every process of this host$/),
    ]);
  });

  it('refuses a cgroup-scoped backend asked for by name where the lab cannot give each node a cgroup, saying why and what is accepted (exit 2)', () => {
    const error = refusal(() => withFakes(() => labBackends(['rules', 'hooks'], undefined, withoutNodeCgroups)));
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(/^KPNG_ERR_LAB_SCOPE: the lab cannot run to-hooks: it hooks the sockets of a cgroup's processes, .*\(--cgroup-path\).*below \/sys\/fs\/bpf \(--pin-path\).*every process of this host; accepted: rules$/);
  });

  it('runs a cgroup-scoped backend where the lab gives each node a cgroup of its own, by default and by name', () => {
    expect(withFakes(() => labBackends(undefined, undefined, withNodeCgroups))).toEqual(['rules', 'hooks']);
    expect(withFakes(() => labBackends(['hooks'], undefined, withNodeCgroups))).toEqual(['hooks']);
  });

  it("takes a backend that cannot start on this kernel when it is asked for by name (a kernel that has what it drives)", () => {
    expect(withFakes(() => labBackends(['traced'], undefined, withoutNodeCgroups))).toEqual(['traced']);
  });

  it("on the proxy's own backends: never a rendered-and-traced one by default, and no cgroup-scoped one without a cgroup per node", () => {
    const chosen = labBackends(undefined, undefined, withoutNodeCgroups);
    for (const b of proxyBackends()) expect(chosen.includes(b.name), b.name).toBe(b.proof === 'runs' && b.scope.kind === 'network-namespace');
    expect(chosen).toContain('iptables');
  });
});

describe('kpng-harness lab options', () => {
  it('defaults to every backend the proxy offers, every family, 3 nodes, the single model, 3 specs at a time', () => {
    expect(parseLabArgs([], '/repo')).toMatchObject({ backends: undefined, families: ['ipv4', 'ipv6', 'dual'], nodes: 3, model: 'single-process-per-node', parallel: 3, results: '/repo/reports/lab', verbose: false });
  });

  it('takes repeated backends and families, and the model, nodes, focus and results folder', () => {
    const cmd = parseLabArgs(['--backend', 'nft', '--backend', 'iptables', '--family', 'dual', '--nodes', '2', '--model', 'split-process-per-node', '--focus', 'affinity', '--results', '/tmp/r'], '/repo');
    expect(cmd).toMatchObject({ backends: ['nft', 'iptables'], families: ['dual'], nodes: 2, model: 'split-process-per-node', results: '/tmp/r' });
    expect(cmd.focus?.test('session-affinity-nodeport')).toBe(true);
  });

  it.each([
    [['--backend', 'ipfw'], new RegExp(`KPNG_ERR_USAGE: lab: --backend "ipfw" is not accepted.*; accepted: ${backendNames().join(', ')}$`)],
    [['--family', 'ipv5'], /--family "ipv5" is not accepted.*; accepted: ipv4, ipv6, dual/],
    [['--nodes', '0'], /--nodes "0" is not accepted; accepted: a whole number from 1 to 20/],
    [['--parallel', 'x'], /--parallel "x" is not accepted; accepted: a whole number from 1 to 16/],
    [['--model', 'both'], /--model "both" is not accepted.*; accepted: single-process-per-node, split-process-per-node/],
    [['--focus', '('], /--focus "\(" is not a regular expression/],
    [['--node', '2'], /unknown option --node \(did you mean --nodes\?\)/],
  ])('rejects %j saying what is accepted (exit 2)', (args, message) => {
    let error: unknown;
    try {
      parseLabArgs(args, '/repo');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KpngError);
    expect((error as KpngError).exitCode).toBe(2);
    expect((error as Error).message).toMatch(message);
  });
});
