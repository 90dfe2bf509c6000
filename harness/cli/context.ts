// What every kpng-harness command gets: where it runs, its environment, its output, and
// the repository. Injected, so tests run commands in-process against a temporary folder.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { k8sBinDir, repoRoot } from '../k8s-binaries.ts';

export interface CliContext {
  cwd: string;
  /** The environment tools run with; PATH starts with the pinned Kubernetes binaries when they are there. */
  env: NodeJS.ProcessEnv;
  /** Results (JSON, YAML, reports). */
  out: (text: string) => void;
  /** Progress and errors. */
  log: (line: string) => void;
  /** The repository: the Dockerfile, the Tiltfile, e2e/skips.yaml. */
  repo: string;
}

/** `env` with the pinned Kubernetes binaries (kubectl among them) first on PATH, when they are there. */
export function toolEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const bin = k8sBinDir();
  if (!existsSync(bin)) return env;
  return { ...env, PATH: [bin, env.PATH ?? ''].filter((p) => p !== '').join(path.delimiter) };
}

export function processContext(): CliContext {
  return {
    cwd: process.cwd(),
    env: toolEnv(process.env),
    out: (text) => process.stdout.write(text),
    log: (line) => process.stderr.write(`${line}\n`),
    repo: repoRoot,
  };
}

/** The options every tool run gets from the context. */
export function runOptions(ctx: CliContext): { env: NodeJS.ProcessEnv; log: (line: string) => void } {
  return { env: ctx.env, log: ctx.log };
}
