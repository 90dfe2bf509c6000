// The harness's backends are the proxy's: what `kpng backends --json` prints (every
// registered descriptor; proxy/cli.test.ts holds that output to the registry). A backend
// registered with the proxy is one the harness accepts everywhere: tilt.env, manifests,
// the lab's /proxyMode check, the e2e matrix.
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { projectNode } from '../lab/netns/programs.ts';
import { repoRoot } from '../k8s-binaries.ts';
import { manifestMatrix } from '../manifests/index.ts';
import { backendNames, isBackend, proxyBackend, proxyBackends, proxyModeOf, readProxyBackends, useProxyBackends, type ProxyBackend } from './backends.ts';
import { formatTiltEnv, parseTiltEnv, tiltEnvFor } from './tilt-env.ts';

const kpng = async (...args: string[]) => (await execa(projectNode(), ['--disable-warning=ExperimentalWarning', 'proxy/cli.ts', ...args], { cwd: repoRoot })).stdout;

/** As `kpng to-fake --describe` would print a descriptor registered with the proxy. */
const fake: ProxyBackend = {
  name: 'fake',
  stage: 'to-fake',
  proxyMode: 'fakemode',
  summary: 'a backend only this test registers',
  flags: [],
  metrics: { family: 'fake', failures: 'none', failureCounters: [] },
  pod: { privileged: true, capabilities: [], reason: 'writes /proc/sys', hostMounts: [], packages: [] },
  proof: 'rendered-and-traced',
  scope: { kind: 'network-namespace' },
  subjects: [{ id: 'fake', title: 'fake', args: [] }],
};

describe("the harness's backends", () => {
  it("are what the program prints: the backends `kpng --help` names, each as its own `--describe` says", async () => {
    const list = readProxyBackends();
    expect(proxyBackends()).toEqual(list);
    const named = /^backends: (.*)$/m.exec(await kpng('--help'))?.[1]?.split(', ');
    // to-json is a local sink too, not a dataplane backend: the rest are exactly the described ones.
    expect(list.map((b) => b.stage)).toEqual(named?.filter((s) => s !== 'to-json'));
    for (const b of list) {
      expect(JSON.parse(await kpng(b.stage, '--describe'))).toEqual(b);
      expect(b.stage).toBe(`to-${b.name}`);
      expect(proxyModeOf(b.name)).toBe(b.proxyMode);
    }
    expect(proxyModeOf('nft')).toBe('nftables');
  });

  it('follow a newly registered backend: tilt.env accepts its name, the manifest matrix has it, its /proxyMode word is known', () => {
    expect(isBackend('fake')).toBe(false);
    const text = formatTiltEnv(tiltEnvFor({ backend: 'iptables', family: 'ipv4', model: 'single-process-per-node' })).replace(/to-iptables/g, 'to-fake').replace('backend=iptables', 'backend=fake');
    expect(() => parseTiltEnv(text, { file: 'tilt.env' })).toThrow(/backend: "fake" is not accepted.*accepted: one of iptables, nft/);
    const restore = useProxyBackends([...proxyBackends(), fake]);
    try {
      expect(backendNames().at(-1)).toBe('fake');
      expect(isBackend('fake')).toBe(true);
      expect(parseTiltEnv(text, { file: 'tilt.env' }).env.backend).toBe('fake');
      expect(proxyModeOf('fake')).toBe('fakemode');
      expect(manifestMatrix().filter((e) => e.input.backend === 'fake')).toHaveLength(6);
    } finally {
      restore();
    }
    expect(isBackend('fake')).toBe(false);
    expect(() => proxyBackend('fake')).toThrow(/KPNG_ERR_NO_BACKEND: the proxy has no backend "fake" \(no stage to-fake\); it offers: iptables, nft/);
  });
});
