// The upstream suite's spec list, from the pinned e2e.test itself (`e2e.test --list-tests`),
// and the exact string ginkgo matches --focus and --skip against.
import { execa } from 'execa';
import { KpngError } from '../config/index.ts';

/** Ginkgo matches focus/skip against "<suite description> <spec full text>"; this is e2e.test's description. */
export const SUITE_DESCRIPTION = 'Kubernetes e2e suite';

export interface Spec {
  /** The full text: container texts and the It text, joined by spaces (what JUnit and --list-tests show). */
  text: string;
  /** Where the It is, as e2e.test reports it, e.g. k8s.io/kubernetes@v1.34.4/test/e2e/network/service.go:1234. */
  location: string;
}

/** The string ginkgo's --focus/--skip regular expressions are matched against for `spec`. */
export function matchTarget(spec: Pick<Spec, 'text'>): string {
  return `${SUITE_DESCRIPTION} ${spec.text}`;
}

const HEADER = "The following spec names can be used with 'ginkgo run --focus/skip':";

/** Parse the output of `e2e.test --list-tests`. */
export function parseSpecList(output: string): Spec[] {
  const lines = output.split('\n');
  const start = lines.findIndex((line) => line.trim() === HEADER);
  if (start < 0) {
    throw new KpngError('KPNG_ERR_E2E_SPECS', `e2e.test --list-tests printed no spec list (no line ${JSON.stringify(HEADER)}); it printed: ${output.slice(0, 300)}`);
  }
  const specs: Spec[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') continue;
    const match = /^\s+(\S+:\d+): (.*)$/.exec(line);
    if (!match) throw new KpngError('KPNG_ERR_E2E_SPECS', `cannot read this line of e2e.test --list-tests: ${JSON.stringify(line)}`);
    specs.push({ location: match[1] ?? '', text: match[2] ?? '' });
  }
  if (specs.length === 0) throw new KpngError('KPNG_ERR_E2E_SPECS', 'e2e.test --list-tests listed no specs');
  return specs;
}

/** Every spec of the e2e.test binary at `e2eTest`. */
export async function listSpecs(e2eTest: string): Promise<Spec[]> {
  const result = await execa(e2eTest, ['--list-tests'], { reject: false, stdin: 'ignore', env: { KUBERNETES_CONFORMANCE_TEST: 'y' } });
  if (result.exitCode !== 0) {
    throw new KpngError('KPNG_ERR_E2E_SPECS', `${e2eTest} --list-tests exited with ${result.exitCode ?? result.signal}: ${String(result.stderr).slice(-500)}`);
  }
  return parseSpecList(String(result.stdout));
}

/** The spec's source on GitHub at the pinned Kubernetes version, when its location is in k8s.io/kubernetes. */
export function specSourceLink(spec: Pick<Spec, 'location'>, version: string): string | undefined {
  const match = /^(?:k8s\.io\/kubernetes(?:@[^/]+)?\/)?(test\/e2e\/\S+\.go):(\d+)$/.exec(spec.location);
  return match ? `https://github.com/kubernetes/kubernetes/blob/${version}/${match[1]}#L${match[2]}` : undefined;
}
