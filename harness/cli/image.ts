// make image: the proxy image from proxy/Dockerfile.
import { dockerBuildCommand, runToolCommand } from '../cluster/index.ts';
import { tiltEnvDefaults } from '../config/index.ts';
import { parseOptions, type OptionSpecs } from './args.ts';
import { runOptions, type CliContext } from './context.ts';

export const imageOptions = {
  tag: { type: 'string', default: tiltEnvDefaults.image, description: 'the image tag' },
} as const satisfies OptionSpecs;

/** Build the image (docker is checked first: missing, it ends with exit 2 and how to install it). */
export async function buildImage(image: string, ctx: CliContext): Promise<void> {
  await runToolCommand(dockerBuildCommand({ image, context: ctx.repo }), runOptions(ctx));
}

export async function image(args: readonly string[], ctx: CliContext): Promise<number> {
  const o = parseOptions('image', args, imageOptions);
  await buildImage(o.tag ?? tiltEnvDefaults.image, ctx);
  return 0;
}
