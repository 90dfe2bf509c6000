import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../k8s-binaries.ts';
import { IMAGE_BUILD_ENV, productionModules } from './kpng-image.ts';

describe('productionModules (what the kpng image copies of node_modules)', () => {
  it('keeps the outermost folder of each production package, relative to the repository, without the project itself', () => {
    const parseable = ['/repo', '/repo/node_modules/@grpc/grpc-js', '/repo/node_modules/@grpc/grpc-js/node_modules/semver', '/repo/node_modules/yaml', '/repo/node_modules/zod', ''].join('\n');
    expect(productionModules(parseable)).toEqual(['node_modules/@grpc/grpc-js', 'node_modules/yaml', 'node_modules/zod']);
  });

  it('does not take a package for a prefix of another’s name, and reads paths through a linked node_modules', () => {
    expect(productionModules('/repo/node_modules/execa\n/elsewhere/node_modules/execa-extra\n')).toEqual(['node_modules/execa', 'node_modules/execa-extra']);
  });
});

describe('the daemon-free image builds the proxy as proxy/Dockerfile does', () => {
  it("runs npm run build with the environment of the Dockerfile's build (KPNG_BPF_REQUIRED=1: the eBPF programs are in the image, or the build fails)", () => {
    const dockerfile = readFileSync(path.join(repoRoot, 'proxy/Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
    const buildRun = dockerfile.split('\n').find((line) => /^RUN\b.*\bnpm run build\b/.test(line));
    expect(buildRun, 'a RUN line of proxy/Dockerfile runs npm run build').toBeDefined();
    const dockerEnv = Object.fromEntries([...(buildRun ?? '').matchAll(/\b([A-Z][A-Z0-9_]*)=(\S+)/g)].filter(([, name]) => name !== 'PATH').map(([, name, value]) => [name, value]));
    expect(IMAGE_BUILD_ENV).toEqual(dockerEnv);
  });
});
