// The docker command line that builds the proxy image (make image). Pure, like commands.ts.
import path from 'node:path';
import { KpngError, imageRefProblem } from '../config/index.ts';
import { nonEmpty, type ToolCommand } from './commands.ts';

export interface DockerBuildCommandOptions {
  /** The tag to give the image, e.g. kpng:dev. */
  image: string;
  /** The repository root: the build context. */
  context: string;
  /** Default: proxy/Dockerfile under the context. */
  dockerfile?: string;
  /** --build-arg NAME=VALUE (e.g. NODE_VERSION). */
  buildArgs?: Readonly<Record<string, string>>;
}

export function dockerBuildCommand(options: DockerBuildCommandOptions): ToolCommand {
  const problem = imageRefProblem(options.image);
  if (problem !== undefined) throw new KpngError('KPNG_ERR_IMAGE_REF', `image: ${problem}`);
  const context = nonEmpty('build context', options.context);
  const dockerfile = options.dockerfile ?? path.join(context, 'proxy', 'Dockerfile');
  const buildArgs = Object.entries(options.buildArgs ?? {}).flatMap(([name, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new KpngError('KPNG_ERR_CLUSTER_ARGUMENT', `build arg ${JSON.stringify(name)} is not a name; accepted: letters, digits and _`);
    }
    return ['--build-arg', `${name}=${value}`];
  });
  return {
    tool: 'docker',
    args: ['build', '--file', dockerfile, '--tag', options.image, ...buildArgs, context],
    needs: ['docker'],
    title: `building image ${options.image} from ${path.relative(context, dockerfile) || dockerfile}`,
    output: 'stream',
  };
}
