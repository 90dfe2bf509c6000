import { describe, expect, it } from 'vitest';
import { productionModules } from './kpng-image.ts';

describe('productionModules (what the kpng image copies of node_modules)', () => {
  it('keeps the outermost folder of each production package, relative to the repository, without the project itself', () => {
    const parseable = ['/repo', '/repo/node_modules/@grpc/grpc-js', '/repo/node_modules/@grpc/grpc-js/node_modules/semver', '/repo/node_modules/yaml', '/repo/node_modules/zod', ''].join('\n');
    expect(productionModules(parseable)).toEqual(['node_modules/@grpc/grpc-js', 'node_modules/yaml', 'node_modules/zod']);
  });

  it('does not take a package for a prefix of another’s name, and reads paths through a linked node_modules', () => {
    expect(productionModules('/repo/node_modules/execa\n/elsewhere/node_modules/execa-extra\n')).toEqual(['node_modules/execa', 'node_modules/execa-extra']);
  });
});
