// Where the compiled socket-LB program is: beside this module once built (hack/build-bpf.sh
// copies it into dist/), else, in a source checkout, in .cache/bpf/ under the source's hash.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errEbpfSetup } from './kernel.ts';

export const programName = 'sock_lb';

export function defaultObjectPath(): string {
  // The build asset (hack/build-bpf.sh puts it beside the compiled module).
  const built = fileURLToPath(new URL(`./bpf/${programName}.o`, import.meta.url));
  if (existsSync(built)) return built;
  // A source checkout only (not build assets): the source and the build cache.
  const sourceDir = fileURLToPath(new URL('./bpf/', import.meta.url));
  const source = join(sourceDir, `${programName}.c`);
  if (existsSync(source)) {
    const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 16);
    const cached = join(fileURLToPath(new URL('../../../', import.meta.url)), '.cache', 'bpf', `${programName}-${hash}.o`);
    if (existsSync(cached)) return cached;
  }
  throw errEbpfSetup(`the compiled program ${programName}.o is missing (looked beside ${built} and in .cache/bpf/); accepted: run hack/build-bpf.sh (make build does), or --bpf-object=PATH`);
}
