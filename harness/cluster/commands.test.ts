import { describe, expect, it } from 'vitest';
import {
  commandLine,
  kindCreateClusterCommand,
  kindDeleteClusterCommand,
  kindExportLogsCommand,
  kindGetClustersCommand,
  kindGetKubeconfigCommand,
  kindLoadDockerImageCommand,
} from './commands.ts';

describe('kind command lines', () => {
  it('create cluster', () => {
    expect(kindCreateClusterCommand({ name: 'kpng-proxy', configPath: '/tmp/kind.yaml' })).toEqual({
      tool: 'kind',
      args: ['create', 'cluster', '--name', 'kpng-proxy', '--config', '/tmp/kind.yaml', '--wait', '5m'],
      needs: ['docker', 'kind'],
      title: 'creating kind cluster kpng-proxy (waiting up to 5m for the control plane)',
      output: 'stream',
    });
    expect(kindCreateClusterCommand({ name: 'kpng-e2e-dual-nft', configPath: 'c.yaml', wait: '300s', retain: true }).args).toEqual([
      'create', 'cluster', '--name', 'kpng-e2e-dual-nft', '--config', 'c.yaml', '--wait', '300s', '--retain',
    ]);
  });

  it('delete, load, export logs, get kubeconfig, get clusters', () => {
    expect(kindDeleteClusterCommand({ name: 'kpng-proxy' }).args).toEqual(['delete', 'cluster', '--name', 'kpng-proxy']);
    expect(kindLoadDockerImageCommand({ name: 'kpng-proxy', image: 'kpng:dev' }).args).toEqual(['load', 'docker-image', 'kpng:dev', '--name', 'kpng-proxy']);
    expect(kindLoadDockerImageCommand({ name: 'kpng-proxy', image: 'kpng:dev', nodes: ['kpng-proxy-worker', 'kpng-proxy-worker2'] }).args).toEqual([
      'load', 'docker-image', 'kpng:dev', '--name', 'kpng-proxy', '--nodes', 'kpng-proxy-worker,kpng-proxy-worker2',
    ]);
    expect(kindExportLogsCommand({ name: 'kpng-proxy', dir: 'reports/logs' }).args).toEqual(['export', 'logs', 'reports/logs', '--name', 'kpng-proxy']);
    const kubeconfig = kindGetKubeconfigCommand({ name: 'kpng-proxy' });
    expect(kubeconfig.args).toEqual(['get', 'kubeconfig', '--name', 'kpng-proxy', '--internal']);
    expect(kubeconfig.output).toBe('capture');
    expect(kindGetKubeconfigCommand({ name: 'kpng-proxy', internal: false }).args).toEqual(['get', 'kubeconfig', '--name', 'kpng-proxy']);
    expect(kindGetClustersCommand().args).toEqual(['get', 'clusters']);
  });

  it('rejects bad names, images, durations and paths with the accepted form', () => {
    expect(() => kindDeleteClusterCommand({ name: 'KPNG' })).toThrow(/KPNG_ERR_CLUSTER_NAME: kind cluster name: "KPNG" has upper-case letters; accepted: /);
    expect(() => kindLoadDockerImageCommand({ name: 'kpng-proxy', image: 'kpng dev' })).toThrow(/KPNG_ERR_IMAGE_REF: image: "kpng dev" contains whitespace/);
    expect(() => kindCreateClusterCommand({ name: 'kpng-proxy', configPath: 'c.yaml', wait: '5 minutes' })).toThrow(
      /KPNG_ERR_CLUSTER_ARGUMENT: wait: "5 minutes" is not a duration; accepted: a number and ms, s, m or h/,
    );
    expect(() => kindExportLogsCommand({ name: 'kpng-proxy', dir: ' ' })).toThrow(/log directory is empty/);
  });

  it('shows a command as a shell line', () => {
    expect(commandLine({ tool: 'kind', args: ['export', 'logs', 'a dir', "it's"] })).toBe(`kind export logs 'a dir' 'it'\\''s'`);
  });
});
