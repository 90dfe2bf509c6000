// The tools on the user's machine that the cluster tier drives (docker, kind, kubectl,
// tilt): found on PATH, the docker daemon asked whether it answers, and when something is
// missing one error that says how to get it, exiting 2.
import { processRunner, type Runner } from '../../proxy/exec.ts';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { KpngError } from '../config/index.ts';
import { KIND_VERSION } from './kind-config.ts';

export const tools = ['docker', 'kind', 'kubectl', 'tilt'] as const;
export type Tool = (typeof tools)[number];

export type { RunOptions, RunResult, Runner } from '../../proxy/exec.ts';

const onHost = processRunner();

/**
 * Runs a program on this host; injected so tests fake the world instead of mocking
 * modules. Its output without the final newline, as the harness reads it.
 */
export const hostToolRunner: Runner = (file, args, options = {}) => onHost(file, args, { stripFinalNewline: true, ...options });

export interface Platform {
  platform: NodeJS.Platform;
  arch: string;
}

const hostPlatform: Platform = { platform: process.platform, arch: process.arch };

/** How to install `tool` (one or two commands and where to read more). */
export function installHint(tool: Tool, host: Platform = hostPlatform): string {
  const arch = host.arch === 'arm64' ? 'arm64' : 'amd64';
  const os = host.platform === 'darwin' ? 'darwin' : 'linux';
  switch (tool) {
    case 'docker':
      return 'install Docker Engine (https://docs.docker.com/engine/install/; Debian/Ubuntu: sudo apt-get install docker.io), start it (sudo systemctl start docker) and let your user use it (sudo usermod -aG docker $USER, then log in again)';
    case 'kind':
      return `install kind ${KIND_VERSION}: go install sigs.k8s.io/kind@${KIND_VERSION}, or curl -fsSLo kind https://kind.sigs.k8s.io/dl/${KIND_VERSION}/kind-${os}-${arch} && chmod +x kind && sudo mv kind /usr/local/bin/ (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)`;
    case 'kubectl':
      return 'run make k8s-binaries and put .cache/k8s/<version>/bin on PATH, or install kubectl (https://kubernetes.io/docs/tasks/tools/)';
    case 'tilt':
      return 'install Tilt: curl -fsSL https://raw.githubusercontent.com/tilt-dev/tilt/master/scripts/install.sh | bash (https://docs.tilt.dev/install.html)';
  }
}

export const DOCKER_DAEMON_HINT =
  'start the docker daemon (sudo systemctl start docker), or check DOCKER_HOST and that your user may use /var/run/docker.sock (sudo usermod -aG docker $USER, then log in again)';

export interface MissingTool {
  tool: Tool;
  reason: 'not-on-path' | 'daemon-not-answering';
  hint: string;
  /** What the check saw (the daemon's error), when there is something to show. */
  detail?: string;
}

function describe(missing: MissingTool): string {
  if (missing.reason === 'daemon-not-answering') {
    const detail = missing.detail ? ` (docker info: ${missing.detail})` : '';
    return `docker is installed but its daemon does not answer${detail}; ${missing.hint}`;
  }
  return `${missing.tool} is not on PATH; ${missing.hint}`;
}

/** A tool the action needs is missing or not running. Exit code 2. */
export class MissingToolError extends KpngError {
  /** The first missing tool and how to get it. */
  readonly tool: Tool;
  readonly hint: string;
  readonly missing: readonly MissingTool[];

  constructor(missing: readonly MissingTool[]) {
    const first = missing[0];
    if (first === undefined) throw new RangeError('MissingToolError needs at least one tool');
    const message =
      missing.length === 1 ? describe(first) : ['this needs tools that are not ready:', ...missing.map((m) => `  - ${describe(m)}`)].join('\n');
    super('KPNG_ERR_MISSING_TOOL', message, { exitCode: 2 });
    this.name = 'MissingToolError';
    this.tool = first.tool;
    this.hint = first.hint;
    this.missing = missing;
  }
}

/** The executable `name` resolves to on env.PATH, or undefined. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = (env.PATH ?? '').split(path.delimiter).filter((dir) => dir !== '');
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface ToolCheckOptions {
  env?: NodeJS.ProcessEnv;
  run?: Runner;
  host?: Platform;
}

/**
 * Check that every tool in `needs` is on PATH and, when docker is among them, that its
 * daemon answers. Returns each tool's path; throws MissingToolError naming all that are not ready.
 */
export async function requireTools(needs: readonly Tool[], options: ToolCheckOptions = {}): Promise<Partial<Record<Tool, string>>> {
  const env = options.env ?? process.env;
  const run = options.run ?? hostToolRunner;
  const found: Partial<Record<Tool, string>> = {};
  const missing: MissingTool[] = [];
  for (const tool of new Set(needs)) {
    const where = findOnPath(tool, env);
    if (where === undefined) missing.push({ tool, reason: 'not-on-path', hint: installHint(tool, options.host) });
    else found[tool] = where;
  }
  const docker = found.docker;
  if (docker !== undefined) {
    const answer = await run(docker, ['info', '--format', '{{.ServerVersion}}'], { env, output: 'capture', timeoutMs: 20_000 });
    if (answer.exitCode !== 0) {
      const detail = answer.stderr.split('\n').map((line) => line.trim()).find((line) => line !== '');
      missing.unshift({ tool: 'docker', reason: 'daemon-not-answering', hint: DOCKER_DAEMON_HINT, ...(detail ? { detail } : {}) });
    }
  }
  if (missing.length > 0) throw new MissingToolError(missing);
  return found;
}
