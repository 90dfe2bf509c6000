import { describe, expect, it } from 'vitest';
import { kpngArchiveName, productionModules } from './kpng-image.ts';

describe('productionModules (what the kpng image copies of node_modules)', () => {
  it('keeps the outermost folder of each production package, relative to the repository, without the project itself', () => {
    const parseable = ['/repo', '/repo/node_modules/@grpc/grpc-js', '/repo/node_modules/@grpc/grpc-js/node_modules/semver', '/repo/node_modules/yaml', '/repo/node_modules/zod', ''].join('\n');
    expect(productionModules(parseable)).toEqual(['node_modules/@grpc/grpc-js', 'node_modules/yaml', 'node_modules/zod']);
  });

  it('does not take a package for a prefix of another’s name, and reads paths through a linked node_modules', () => {
    expect(productionModules('/repo/node_modules/execa\n/elsewhere/node_modules/execa-extra\n')).toEqual(['node_modules/execa', 'node_modules/execa-extra']);
  });
});

describe('kpngArchiveName', () => {
  const digest = 'a'.repeat(64);
  it('is the same for the same layers whatever temporary folder the application layer was written in', () => {
    const one = kpngArchiveName('/c/debian-kpng-bookworm-1.layer.tar', `${digest}  /c/.kpng-stage-AbC123/app.tar\n`);
    expect(one).toMatch(/^kpng-[0-9a-f]{16}\.tar$/);
    expect(kpngArchiveName('/other/debian-kpng-bookworm-1.layer.tar', `${digest}  /c/.kpng-stage-XyZ789/app.tar\n`)).toBe(one);
  });

  it('changes with the application layer or the Debian layer', () => {
    const one = kpngArchiveName('/c/debian-kpng-bookworm-1.layer.tar', `${digest}  /t/app.tar`);
    expect(kpngArchiveName('/c/debian-kpng-bookworm-1.layer.tar', `${'b'.repeat(64)}  /t/app.tar`)).not.toBe(one);
    expect(kpngArchiveName('/c/debian-kpng-bookworm-2.layer.tar', `${digest}  /t/app.tar`)).not.toBe(one);
  });

  it('refuses output without a digest', () => {
    expect(() => kpngArchiveName('/c/l.tar', 'sha256sum: /t/app.tar: No such file or directory')).toThrow(/KPNG_ERR_\w+.*sha256sum printed no digest/);
  });
});
