// What the commands that keep something running after they return (control-plane, cluster)
// share. `up` starts `kpng-harness <command> serve ...` detached, its output in
// <state>.log, and waits for the state file the server writes once ready (whole or not
// at all: written aside, then renamed); `down` reads that file and signals the pid in it.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KpngError } from '../config/index.ts';
import type { HarnessErrorCode } from '../config/error-codes.ts';
import { processRunning, projectNode, programEnv, siblingProgram } from '../lab/netns/index.ts';
import type { CliContext } from './context.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The server's state file, or undefined when there is none; a file that is not JSON is refused with `code`, naming `what` it should be. */
export async function readStateFile<T>(file: string, code: HarnessErrorCode, what: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KpngError(code, `${file}: not a ${what} state file (${(error as Error).message}); remove it and run up again`);
  }
}

/** What the server writes once ready: aside first, then renamed, so `up` never reads half of it. */
export async function writeStateFile(file: string, state: unknown): Promise<void> {
  await writeFile(`${file}.tmp`, JSON.stringify(state, null, 2));
  await rename(`${file}.tmp`, file);
}

export interface BackgroundServer {
  readonly logFile: string;
  /** The server's exit code once it has exited (null: by a signal); undefined while it runs. */
  exited(): number | null | undefined;
  /** Sends SIGTERM to the server (`group`: to its whole process group) while it runs. */
  terminate(group?: boolean): void;
  /** Polls for the state file until it is there, the server exits, or the deadline passes (undefined for both). */
  ready<T>(read: () => Promise<T | undefined>, deadline: number): Promise<T | undefined>;
  /** The last lines of its log. */
  logTail(lines: number): Promise<string>;
}

/** Starts `kpng-harness <args>` (a `serve`) detached from this process, writing its state to `stateFile`. */
export async function startBackgroundServer(args: readonly string[], stateFile: string, ctx: CliContext): Promise<BackgroundServer> {
  await rm(stateFile, { force: true });
  await mkdir(path.dirname(stateFile), { recursive: true });
  const logFile = `${stateFile}.log`;
  const out = openSync(logFile, 'w');
  const cli = siblingProgram(import.meta.url, '../cli');
  const child = spawn(projectNode(), ['--disable-warning=ExperimentalWarning', cli, ...args, '--state', stateFile], {
    cwd: ctx.cwd,
    env: { ...ctx.env, ...programEnv() },
    detached: true,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  let exitCode: number | null | undefined;
  child.on('exit', (code) => (exitCode = code));
  child.unref();
  return {
    logFile,
    exited: () => exitCode,
    terminate(group = false) {
      if (child.pid && exitCode === undefined) process.kill(group ? -child.pid : child.pid, 'SIGTERM');
    },
    async ready(read, deadline) {
      while (Date.now() < deadline && exitCode === undefined) {
        const state = await read();
        if (state !== undefined) return state;
        await sleep(250);
      }
      return undefined;
    },
    async logTail(lines) {
      const output = await readFile(logFile, 'utf8').catch(() => '');
      return output.trim().split('\n').slice(-lines).join('\n');
    },
  };
}

/** Waits until process `pid` is gone; false when it still runs at the deadline. */
export async function processGone(pid: number, deadline: number): Promise<boolean> {
  while (processRunning(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(200);
  }
  return true;
}
