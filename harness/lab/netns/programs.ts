// Where the project's node and the lab's small programs are, and how to start them fast.

import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's own node (node_modules/.bin/node), or the running one when that is missing. */
export function projectNode(): string {
  const local = fileURLToPath(new URL('../../../node_modules/.bin/node', import.meta.url));
  return existsSync(local) ? local : process.execPath;
}

/** The program `name` beside the module at `moduleURL`, as .ts from source or .js when built. */
export function siblingProgram(moduleURL: string, name: string): string {
  const extension = moduleURL.endsWith('.ts') ? '.ts' : '.js';
  return fileURLToPath(new URL(`./${name}${extension}`, moduleURL));
}

/** A program of this folder (`echo-server`, `probe-client`). */
export function programPath(name: 'echo-server' | 'probe-client'): string {
  return siblingProgram(import.meta.url, name);
}

/** Arguments and environment that start a program of this folder with the project's node. */
export function programCommand(name: 'echo-server' | 'probe-client', argument: string): { file: string; args: string[]; env: Record<string, string> } {
  return {
    file: projectNode(),
    args: ['--disable-warning=ExperimentalWarning', programPath(name), argument],
    env: programEnv(),
  };
}

/** Environment for starting a .ts program with node: the compile cache keeps type stripping from costing ~70 ms at every start. */
export function programEnv(): Record<string, string> {
  return { NODE_COMPILE_CACHE: join(tmpdir(), 'kpng-node-compile-cache') };
}
