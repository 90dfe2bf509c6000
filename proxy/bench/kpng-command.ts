// kpng as users run it, for the benchmarks: package.json's bin, the launcher that the
// image's ENTRYPOINT also is (proxy/kpng.sh, which picks node's flags), beside the compiled
// dist/proxy/cli.js when `npm run build` has run, else in the source tree beside cli.ts.
// The node it starts is the first on PATH, as in the image: here the project's own.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../harness/k8s-binaries.ts';
import { projectNode } from '../../harness/lab/netns/index.ts';

export interface KpngCommand {
  /** The launcher to execute. */
  file: string;
  /** The module the launcher starts (dist/proxy/cli.js or proxy/cli.ts). */
  entry: string;
  /** PATH with the project's node first. */
  env: Record<string, string>;
}

export function kpngCommand(): KpngCommand {
  const built = path.join(repoRoot, 'dist/proxy/kpng.sh');
  const compiled = existsSync(built) && existsSync(path.join(repoRoot, 'dist/proxy/cli.js'));
  const file = compiled ? built : path.join(repoRoot, 'proxy/kpng.sh');
  const entry = path.join(path.dirname(file), compiled ? 'cli.js' : 'cli.ts');
  return { file, entry, env: { PATH: `${path.dirname(projectNode())}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` } };
}
