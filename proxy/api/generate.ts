#!/usr/bin/env node
// Regenerates proxy/api/generated/ (TypeScript types for localv1.proto) with
// @grpc/proto-loader's proto-loader-gen-types:
//   node proxy/api/generate.ts            rewrite proxy/api/generated/
//   node proxy/api/generate.ts --out=DIR  write into DIR instead (the up-to-date test does)
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root: generated files name the .proto relative to it. */
export const repoRoot = path.resolve(here, '../..');
export const protoFile = 'proxy/api/localv1.proto';
export const generatedDir = path.join(here, 'generated');

/** Must match the loader options in proto.ts: the generated types describe what it decodes. */
export const generatorFlags = ['--longs=String', '--enums=String', '--defaults', '--oneofs', '--includeComments', '--grpcLib=@grpc/grpc-js', '--importFileExtension=.ts'];

function generatorBin(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('@grpc/proto-loader/package.json')), 'build/bin/proto-loader-gen-types.js');
}

/** Generate the types into `out` (replaced as a whole). */
export async function generate(out: string): Promise<void> {
  await mkdir(path.dirname(out), { recursive: true });
  const staging = await mkdtemp(path.join(path.dirname(out), '.generating-'));
  try {
    await execa(process.execPath, [generatorBin(), ...generatorFlags, `--outDir=${staging}`, protoFile], { cwd: repoRoot });
    await rm(out, { recursive: true, force: true });
    await rename(staging, out);
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    throw e;
  }
}

function isEntryPoint(): boolean {
  return process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
}

if (isEntryPoint()) {
  const outArg = process.argv.slice(2).find((a) => a.startsWith('--out='));
  const bad = process.argv.slice(2).find((a) => !a.startsWith('--out='));
  if (bad !== undefined) {
    process.stderr.write(`generate: unknown argument ${JSON.stringify(bad)} (accepted: --out=DIR)\n`);
    process.exit(2);
  }
  const out = outArg ? path.resolve(outArg.slice('--out='.length)) : generatedDir;
  generate(out).then(
    () => process.stdout.write(`generated ${path.relative(process.cwd(), out) || '.'} from ${protoFile}\n`),
    (e: unknown) => {
      process.stderr.write(`generate: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
