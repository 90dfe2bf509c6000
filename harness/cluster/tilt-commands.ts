// The tilt command lines behind make tilt-up and make tilt-down. Tilt builds the image
// (docker) and deploys it to the kind cluster, so it needs all three.
import { nonEmpty, type ToolCommand } from './commands.ts';
import type { Tool } from './tools.ts';

const TILT_NEEDS: readonly Tool[] = ['docker', 'kind', 'tilt'];

export interface TiltUpOptions {
  /** The Tiltfile (the repository's). */
  file: string;
  /** Tilt's web UI port (default: Tilt's, 10350). */
  port?: number;
}

export function tiltUpCommand(options: TiltUpOptions): ToolCommand {
  const port = options.port === undefined ? [] : ['--port', String(options.port)];
  return {
    tool: 'tilt',
    args: ['up', '--file', nonEmpty('Tiltfile', options.file), ...port],
    needs: TILT_NEEDS,
    title: 'starting the Tilt loop (rebuilds and redeploys the proxy when its code or tilt.env changes; Ctrl-C stops it)',
    output: 'inherit',
  };
}

export function tiltDownCommand(options: { file: string }): ToolCommand {
  return {
    tool: 'tilt',
    args: ['down', '--file', nonEmpty('Tiltfile', options.file)],
    needs: TILT_NEEDS,
    title: 'removing what the Tilt loop deployed',
    output: 'stream',
  };
}

/** One batch run of the Tiltfile: build, deploy, wait until ready, exit (tilt ci). */
export function tiltCiCommand(options: { file: string; timeout?: string }): ToolCommand {
  return {
    tool: 'tilt',
    args: ['ci', '--file', nonEmpty('Tiltfile', options.file), ...(options.timeout ? ['--timeout', options.timeout] : [])],
    needs: TILT_NEEDS,
    title: 'building and deploying once with Tilt (tilt ci)',
    output: 'stream',
  };
}
