import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ipFamilies } from '../config/index.ts';
import { k8sVersion } from '../k8s-binaries.ts';
import { KIND_NODE_IMAGE, KIND_VERSION, kindConfig, kindConfigYaml } from './kind-config.ts';
import { clusterNetworks } from './networks.ts';

describe('clusterNetworks', () => {
  it('has one CIDR per family, IPv4 first, and dual is exactly ipv4 + ipv6', () => {
    expect(clusterNetworks.ipv4).toEqual({ podCIDRs: ['10.244.0.0/16'], serviceCIDRs: ['10.96.0.0/16'] });
    expect(clusterNetworks.ipv6).toEqual({ podCIDRs: ['fd00:10:244::/56'], serviceCIDRs: ['fd00:10:96::/112'] });
    expect(clusterNetworks.dual.podCIDRs).toEqual([...clusterNetworks.ipv4.podCIDRs, ...clusterNetworks.ipv6.podCIDRs]);
    expect(clusterNetworks.dual.serviceCIDRs).toEqual([...clusterNetworks.ipv4.serviceCIDRs, ...clusterNetworks.ipv6.serviceCIDRs]);
  });
});

describe('kindConfig', () => {
  it.each(ipFamilies)('%s: no kube-proxy, the table CIDRs, one control plane and two workers on the pinned image', (family) => {
    const config = kindConfig({ family });
    expect(config).toEqual({
      kind: 'Cluster',
      apiVersion: 'kind.x-k8s.io/v1alpha4',
      networking: {
        ipFamily: family,
        kubeProxyMode: 'none',
        podSubnet: clusterNetworks[family].podCIDRs.join(','),
        serviceSubnet: clusterNetworks[family].serviceCIDRs.join(','),
      },
      nodes: [
        { role: 'control-plane', image: KIND_NODE_IMAGE },
        { role: 'worker', image: KIND_NODE_IMAGE },
        { role: 'worker', image: KIND_NODE_IMAGE },
      ],
    });
    expect(parse(kindConfigYaml({ family }))).toEqual(config);
  });

  it('writes kubeProxyMode as the string "none"', () => {
    expect(kindConfigYaml({ family: 'ipv4' })).toMatch(/kubeProxyMode: none\n/);
    expect(typeof parse(kindConfigYaml({ family: 'ipv4' })).networking.kubeProxyMode).toBe('string');
  });

  it('pins a kindest/node image by digest, at the Kubernetes minor the harness pins', () => {
    const match = /^kindest\/node:v(\d+)\.(\d+)\.(\d+)@sha256:[0-9a-f]{64}$/.exec(KIND_NODE_IMAGE);
    expect(match).not.toBeNull();
    const [, major, minor] = /^v(\d+)\.(\d+)\./.exec(k8sVersion()) ?? [];
    expect(`${match?.[1]}.${match?.[2]}`).toBe(`${major}.${minor}`);
    expect(KIND_VERSION).toMatch(/^v0\.\d+\.\d+$/);
  });

  it('takes the worker count and node image', () => {
    const config = kindConfig({ family: 'dual', workers: 0, nodeImage: 'kindest/node:v1.34.3' });
    expect(config.nodes).toEqual([{ role: 'control-plane', image: 'kindest/node:v1.34.3' }]);
  });
});
