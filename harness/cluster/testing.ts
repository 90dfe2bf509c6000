// Test helpers for code that runs tools: a folder of stand-in executables (so PATH
// lookups find them) and a runner that records each call and answers as told, instead
// of running anything.
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunOptions, RunResult, Runner } from './tools.ts';

/** A new folder under `parent` holding an executable per name (a shell script with `body`). */
export async function fakeBin(parent: string, names: readonly string[], body = 'exit 0'): Promise<string> {
  return scriptBin(parent, Object.fromEntries(names.map((name) => [name, body])));
}

/** A new folder under `parent` holding one executable shell script per entry: name → script body. */
export async function scriptBin(parent: string, scripts: Readonly<Record<string, string>>): Promise<string> {
  const bin = await mkdtemp(path.join(parent, 'bin-'));
  for (const [name, body] of Object.entries(scripts)) {
    const file = path.join(bin, name);
    await writeFile(file, `#!/bin/sh\n${body}\n`);
    await chmod(file, 0o755);
  }
  return bin;
}

export interface RecordedCall {
  file: string;
  args: readonly string[];
  options: RunOptions;
}

/** A Runner that records every call and answers with `answer(call)`. */
export function recordingRunner(answer: (call: RecordedCall) => Partial<RunResult> & { exitCode: number }): { run: Runner; calls: RecordedCall[] } {
  const calls: RecordedCall[] = [];
  const run: Runner = async (file, args, options) => {
    const call = { file, args, options: options ?? {} };
    calls.push(call);
    const result = answer(call);
    return { exitCode: result.exitCode, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
  };
  return { run, calls };
}

/** What `docker info` answers when the daemon is up. */
export const dockerDaemonUp = { exitCode: 0, stdout: '28.0.1' };
