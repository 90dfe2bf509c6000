import { describe, expect, it } from 'vitest';
import { commandLine } from './commands.ts';
import { dockerBuildCommand } from './image-commands.ts';
import { kindApiServer, kindContext } from './kind-config.ts';
import { kubectlApplyCommand, kubectlRolloutStatusCommand } from './kubectl-commands.ts';
import { tiltCiCommand, tiltDownCommand, tiltUpCommand } from './tilt-commands.ts';

describe('docker build (make image)', () => {
  it('builds proxy/Dockerfile with the repository as context and tags the image', () => {
    const command = dockerBuildCommand({ image: 'kpng:dev', context: '/src/kpng' });
    expect(command).toEqual({
      tool: 'docker',
      args: ['build', '--file', '/src/kpng/proxy/Dockerfile', '--tag', 'kpng:dev', '/src/kpng'],
      needs: ['docker'],
      title: 'building image kpng:dev from proxy/Dockerfile',
      output: 'stream',
    });
    expect(commandLine(command)).toBe('docker build --file /src/kpng/proxy/Dockerfile --tag kpng:dev /src/kpng');
  });

  it('passes build args and rejects a bad tag or arg name', () => {
    expect(dockerBuildCommand({ image: 'localhost:5001/kpng:e2e', context: '.', buildArgs: { NODE_VERSION: '24.21.0' } }).args).toEqual([
      'build', '--file', 'proxy/Dockerfile', '--tag', 'localhost:5001/kpng:e2e', '--build-arg', 'NODE_VERSION=24.21.0', '.',
    ]);
    expect(() => dockerBuildCommand({ image: 'KPNG', context: '.' })).toThrow(/^KPNG_ERR_IMAGE_REF: image: "KPNG": repository names are lower-case$/);
    expect(() => dockerBuildCommand({ image: 'kpng', context: '.', buildArgs: { 'NODE VERSION': '1' } })).toThrow(/KPNG_ERR_CLUSTER_ARGUMENT: build arg "NODE VERSION"/);
  });
});

describe('kubectl', () => {
  it('applies a manifest file, for real or as a server-side dry run, on a chosen kubeconfig and context', () => {
    expect(kubectlApplyCommand({ file: 'm.yaml' }).args).toEqual(['apply', '--filename', 'm.yaml']);
    const dry = kubectlApplyCommand({ file: 'm.yaml', kubeconfig: '/tmp/kc', context: kindContext('kpng-proxy'), dryRun: 'server' });
    expect(dry.args).toEqual(['--kubeconfig', '/tmp/kc', '--context', 'kind-kpng-proxy', 'apply', '--filename', 'm.yaml', '--dry-run=server']);
    expect(dry.needs).toEqual(['kubectl']);
    expect(dry.title).toBe('checking (server-side dry run) m.yaml');
    expect(() => kubectlApplyCommand({ file: ' ' })).toThrow(/KPNG_ERR_CLUSTER_ARGUMENT: manifest file is empty/);
  });

  it('waits for a DaemonSet rollout', () => {
    const command = kubectlRolloutStatusCommand({ kubeconfig: 'kc', namespace: 'kpng-system', daemonSet: 'kpng', timeout: '3m' });
    expect(command.args).toEqual(['--kubeconfig', 'kc', '--namespace', 'kpng-system', 'rollout', 'status', 'daemonset/kpng', '--timeout=3m']);
    expect(kubectlRolloutStatusCommand({ namespace: 'kpng-system', daemonSet: 'kpng' }).args.at(-1)).toBe('--timeout=5m');
    expect(() => kubectlRolloutStatusCommand({ namespace: 'tilt.dev', daemonSet: 'kpng' })).toThrow(/namespace: "tilt.dev" contains "."/);
    expect(() => kubectlRolloutStatusCommand({ namespace: 'kpng-system', daemonSet: 'kpng', timeout: '5' })).toThrow(/"5" is not a duration/);
  });
});

describe('tilt', () => {
  it('tilt up hands over the terminal and needs docker, kind and tilt', () => {
    const up = tiltUpCommand({ file: '/src/kpng/Tiltfile' });
    expect(up.args).toEqual(['up', '--file', '/src/kpng/Tiltfile']);
    expect(up.output).toBe('inherit');
    expect(up.needs).toEqual(['docker', 'kind', 'tilt']);
    expect(tiltUpCommand({ file: 'Tiltfile', port: 10351 }).args).toEqual(['up', '--file', 'Tiltfile', '--port', '10351']);
  });

  it('tilt down and tilt ci', () => {
    expect(tiltDownCommand({ file: 'Tiltfile' }).args).toEqual(['down', '--file', 'Tiltfile']);
    expect(tiltCiCommand({ file: 'Tiltfile', timeout: '10m' }).args).toEqual(['ci', '--file', 'Tiltfile', '--timeout', '10m']);
    expect(() => tiltDownCommand({ file: '' })).toThrow(/Tiltfile is empty/);
  });
});

describe('kind addresses', () => {
  it('the in-cluster API server and the kubeconfig context of a kind cluster', () => {
    expect(kindApiServer('kpng-e2e-dual-nft')).toBe('https://kpng-e2e-dual-nft-control-plane:6443');
    expect(kindContext('kpng-proxy')).toBe('kind-kpng-proxy');
  });
});
