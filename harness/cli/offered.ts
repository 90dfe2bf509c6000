// Which backends a command may deploy: those the proxy offers, as `kpng backends --json`
// lists them (every registered backend's descriptor). Asking for another is a clear
// error, exit 2.
import { KpngError, backendNames, flagsFromHelp, type Backend, type StageFlags } from '../config/index.ts';
import { proxyStageHelp } from '../lab/cluster/index.ts';

/** The requested backends (default: every one the proxy offers), all of them offered by the proxy. */
export function offeredBackends(requested: readonly Backend[] | undefined, log?: (line: string) => void): Promise<Backend[]> {
  const offered = backendNames();
  const missing = (requested ?? []).filter((b) => !offered.includes(b));
  if (missing.length > 0) {
    return Promise.reject(
      new KpngError('KPNG_ERR_NO_BACKEND', `the proxy has no ${missing.map((b) => `to-${b}`).join(', ')} stage (kpng backends lists it not); it offers: ${offered.join(', ') || 'none'}`, { exitCode: 2 }),
    );
  }
  if (!requested?.length && log) log(`==> backends the proxy offers: ${offered.join(', ')}`);
  return Promise.resolve(requested?.length ? [...requested] : offered);
}

/** The flags of every stage these argument lists name, learnt from `kpng <stage> --help` (as the backends are from `kpng backends --json`). */
export async function proxyStageFlags(...argLists: ReadonlyArray<readonly string[]>): Promise<StageFlags> {
  const stages = [...new Set(argLists.flat().filter((arg) => !arg.startsWith('-')))];
  const helps = await Promise.all(stages.map(async (stage) => [stage, await proxyStageHelp(stage)] as const));
  const flags = new Map(helps.map(([stage, help]) => [stage, help === undefined ? undefined : flagsFromHelp(help)]));
  return (stage) => flags.get(stage);
}
