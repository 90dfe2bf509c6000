// Where the compiled socket-LB program is: beside this module once built (hack/build-bpf.sh
// copies it into dist/), else, in a source checkout, in .cache/bpf/ under the source's hash.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { errEbpfSetup } from './kernel.ts';

export const programName = 'sock_lb';

export function defaultObjectPath(): string {
  const built = fileURLToPath(new URL(`./bpf/${programName}.o`, import.meta.url));
  if (existsSync(built)) return built;
  const source = fileURLToPath(new URL(`./bpf/${programName}.c`, import.meta.url));
  if (existsSync(source)) {
    const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 16);
    const cached = fileURLToPath(new URL(`../../../.cache/bpf/${programName}-${hash}.o`, import.meta.url));
    if (existsSync(cached)) return cached;
  }
  throw errEbpfSetup(`the compiled program ${programName}.o is missing (looked beside ${built} and in .cache/bpf/); accepted: run hack/build-bpf.sh (make build does), or --bpf-object=PATH`);
}
