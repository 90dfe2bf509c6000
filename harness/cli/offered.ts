// Which backends a command may deploy: those the proxy offers (`kpng to-<backend> --help`
// exits 0). The harness knows more backend names (tilt.env accepts them all) than the proxy
// implements; asking for one it lacks is a clear error, exit 2.
import { KpngError, backends, flagsFromHelp, type Backend, type StageFlags } from '../config/index.ts';
import { backendAvailable, proxyStageHelp } from '../lab/cluster/index.ts';

/** The requested backends (default: every one the proxy offers), all of them offered by the proxy. */
export async function offeredBackends(requested: readonly Backend[] | undefined, log?: (line: string) => void): Promise<Backend[]> {
  const offered: Backend[] = [];
  for (const backend of backends) if (await backendAvailable(backend)) offered.push(backend);
  const missing = (requested ?? []).filter((b) => !offered.includes(b));
  if (missing.length > 0) {
    throw new KpngError('KPNG_ERR_NO_BACKEND', `the proxy has no ${missing.map((b) => `to-${b}`).join(', ')} stage yet (kpng to-<backend> --help fails); it offers: ${offered.join(', ') || 'none'}`, { exitCode: 2 });
  }
  if (!requested?.length && log) {
    const notYet = backends.filter((b) => !offered.includes(b));
    log(`==> backends the proxy offers: ${offered.join(', ')}${notYet.length > 0 ? ` (not yet: ${notYet.join(', ')})` : ''}`);
  }
  return requested?.length ? [...requested] : offered;
}

/** The flags of every stage these argument lists name, learnt from `kpng <stage> --help` (as the backends are). */
export async function proxyStageFlags(...argLists: ReadonlyArray<readonly string[]>): Promise<StageFlags> {
  const stages = [...new Set(argLists.flat().filter((arg) => !arg.startsWith('-')))];
  const helps = await Promise.all(stages.map(async (stage) => [stage, await proxyStageHelp(stage)] as const));
  const flags = new Map(helps.map(([stage, help]) => [stage, help === undefined ? undefined : flagsFromHelp(help)]));
  return (stage) => flags.get(stage);
}
