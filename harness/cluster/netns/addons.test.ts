import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { coreDnsManifests, corefile, kubeProxyManifests } from './addons.ts';
import { clusterPlan } from './plan.ts';

type Item = { kind: string; metadata: { name: string; namespace?: string }; spec?: Record<string, unknown>; data?: Record<string, string> };
const items = (list: Record<string, unknown>) => list.items as Item[];

describe('coreDnsManifests (kubeadm’s CoreDNS)', () => {
  const plan = clusterPlan('kc00aa', 3);
  it('puts the kube-dns Service on the cluster’s DNS address (what every kubelet’s clusterDNS names)', () => {
    const svc = items(coreDnsManifests(plan)).find((i) => i.kind === 'Service')!;
    expect(svc.metadata).toMatchObject({ name: 'kube-dns', namespace: 'kube-system' });
    expect(svc.spec).toMatchObject({ clusterIP: '10.96.0.10', ipFamilyPolicy: 'SingleStack', selector: { 'k8s-app': 'kube-dns' } });
  });
  it('keeps the kube-dns Service single-stack in the primary family, as kubeadm: IPv4 on a dual cluster, IPv6 on an IPv6 one', () => {
    const spec = (family: 'dual' | 'ipv6') => items(coreDnsManifests(clusterPlan('kc00aa', 2, family))).find((i) => i.kind === 'Service')!.spec;
    expect(spec('dual')).toMatchObject({ clusterIP: '10.96.0.10', ipFamilyPolicy: 'SingleStack' });
    expect(spec('ipv6')).toMatchObject({ clusterIP: 'fd00:10:96::a', ipFamilyPolicy: 'SingleStack' });
  });
  it('serves cluster.local without forward or loop (the lab has no upstream resolver)', () => {
    const cm = items(coreDnsManifests(plan)).find((i) => i.kind === 'ConfigMap')!;
    expect(cm.data!.Corefile).toBe(corefile());
    expect(corefile()).toContain('kubernetes cluster.local in-addr.arpa ip6.arpa');
    expect(corefile()).not.toMatch(/\bforward\b|\bloop\b/);
  });
  it('runs two replicas where two nodes exist, one on a one-node cluster', () => {
    const replicas = (n: number) => (items(coreDnsManifests(clusterPlan('kc00aa', n))).find((i) => i.kind === 'Deployment')!.spec as { replicas: number }).replicas;
    expect([replicas(1), replicas(2), replicas(3)]).toEqual([1, 2, 2]);
  });
});

describe('kubeProxyManifests (kubeadm’s kube-proxy DaemonSet)', () => {
  const plan = clusterPlan('kc00aa', 2);
  const list = items(kubeProxyManifests(plan, 'https://10.201.0.2:6443', { mode: 'nftables' }));
  it('binds its ServiceAccount to system:node-proxier', () => {
    expect(list.find((i) => i.kind === 'ClusterRoleBinding')).toMatchObject({ roleRef: { name: 'system:node-proxier' }, subjects: [{ kind: 'ServiceAccount', name: 'kube-proxy', namespace: 'kube-system' }] });
  });
  it('reaches the API server at its address (not through the Service it is to program) with the pod’s token', () => {
    const data = list.find((i) => i.kind === 'ConfigMap')!.data!;
    const kubeconfig = parse(data['kubeconfig.conf']!) as { clusters: { cluster: { server: string } }[]; users: { user: { tokenFile: string } }[] };
    expect(kubeconfig.clusters[0]!.cluster.server).toBe('https://10.201.0.2:6443');
    expect(kubeconfig.users[0]!.user.tokenFile).toBe('/var/run/secrets/kubernetes.io/serviceaccount/token');
    const config = parse(data['config.conf']!) as Record<string, unknown>;
    expect(config).toMatchObject({ mode: 'nftables', clusterCIDR: '10.244.0.0/16', conntrack: { maxPerCore: 0 }, clientConnection: { kubeconfig: '/var/lib/kube-proxy/kubeconfig.conf' } });
  });
  it('gives kube-proxy on a dual cluster the pod CIDRs of both families (its local-traffic detection in each)', () => {
    const data = items(kubeProxyManifests(clusterPlan('kc00aa', 2, 'dual'), 'https://10.201.0.2:6443')).find((i) => i.kind === 'ConfigMap')!.data!;
    expect(parse(data['config.conf']!)).toMatchObject({ mode: 'iptables', clusterCIDR: '10.244.0.0/16,fd00:10:244::/56' });
  });
  it('runs privileged on the host network of every node, named after its node', () => {
    const ds = list.find((i) => i.kind === 'DaemonSet')!;
    const pod = (ds.spec as { template: { spec: { hostNetwork: boolean; tolerations: unknown[]; containers: { image: string; command: string[]; securityContext: unknown }[] } } }).template.spec;
    expect(pod.hostNetwork).toBe(true);
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(pod.containers[0]!.image).toMatch(/^registry\.k8s\.io\/kube-proxy:v1\.\d+\.\d+$/);
    expect(pod.containers[0]!.command).toContain('--hostname-override=$(NODE_NAME)');
    expect(pod.containers[0]!.securityContext).toEqual({ privileged: true });
  });
});
