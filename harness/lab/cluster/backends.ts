// Which backends the lab runs: those the proxy offers (`kpng backends --json`) that start
// on this kernel and that the lab can keep to one node. Generic: it reads each
// descriptor's proof and scope, never a backend's name.
import { KpngError, proxyBackend, proxyBackends, type Backend, type ProxyBackend } from '../../config/index.ts';
import { nodeCgroupsUnavailable, whyNotConfined } from '../netns/index.ts';

/** What the lab knows of this host: why it cannot give nodes a cgroup each (undefined: it can). */
export interface LabHost {
  nodeCgroupsMissing: string | undefined;
}

export const thisHost = (): LabHost => ({ nodeCgroupsMissing: nodeCgroupsUnavailable() });

/** Why the lab cannot keep this backend to one node on `host` (undefined: it can); asking for it anyway is refused. */
export function whyRefused(b: ProxyBackend, host: LabHost = thisHost()): string | undefined {
  return whyNotConfined(b.scope, host);
}

/** Why the lab leaves this backend out unless asked for it by name (undefined: it runs it by default). */
export function whyLeftOut(b: ProxyBackend, host: LabHost = thisHost()): string | undefined {
  if (b.proof !== 'runs') return `its proof is ${b.proof}: this kernel lacks what it drives, so it cannot start here (it is proven by its rendered rules and traces); ask for it with --backend on a kernel that has it`;
  return whyRefused(b, host);
}

/** Throws KPNG_ERR_LAB_SCOPE (exit 2) when the lab cannot keep `backend` to one node on `host`. */
export function checkLabScope(backend: Backend, host: LabHost = thisHost()): void {
  const why = whyRefused(proxyBackend(backend), host);
  if (why === undefined) return;
  const accepted = proxyBackends().filter((b) => whyLeftOut(b, host) === undefined).map((b) => b.name);
  throw new KpngError('KPNG_ERR_LAB_SCOPE', `the lab cannot run to-${backend}: ${why}; accepted: ${accepted.join(', ') || 'none'}`, { exitCode: 2 });
}

/**
 * The backends a lab run takes: the ones asked for (each checked with checkLabScope), or
 * by default every backend the proxy offers that the lab runs here, the others named
 * with why they are left out.
 */
export function labBackends(requested: readonly Backend[] | undefined, log: (line: string) => void = () => {}, host: LabHost = thisHost()): Backend[] {
  if (requested?.length) {
    for (const b of requested) checkLabScope(b, host);
    return [...requested];
  }
  const chosen: Backend[] = [];
  for (const b of proxyBackends()) {
    const why = whyLeftOut(b, host);
    if (why === undefined) chosen.push(b.name);
    else log(`==> the lab leaves out ${b.name}: ${why}`);
  }
  return chosen;
}
