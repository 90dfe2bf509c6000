// What the netns cluster runs as pods (pure): CoreDNS as kubeadm deploys it, and upstream
// kube-proxy as kubeadm deploys it (a DaemonSet of host-network pods), the reference a
// kpng backend is compared with. Both use the images images.ts writes (never pulled).
//
//   CoreDNS     kubeadm's ServiceAccount, ClusterRole, ClusterRoleBinding, ConfigMap,
//               Deployment and the kube-dns Service on the cluster's DNS address; the
//               Corefile has no `forward` (the lab has no upstream resolver) and so no `loop`.
//   kube-proxy  kubeadm's ServiceAccount bound to system:node-proxier, a ConfigMap with its
//               KubeProxyConfiguration and a kubeconfig naming the API server's address
//               (the `kubernetes` Service needs a proxy first), and the DaemonSet.
import { stringify } from 'yaml';
import { COREDNS_IMAGE, kubeProxyImage } from './images.ts';
import type { ClusterPlan } from './plan.ts';

type Obj = Record<string, unknown>;

const list = (items: Obj[]): Obj => ({ apiVersion: 'v1', kind: 'List', items });

/** CoreDNS's Corefile: kubeadm's, without `forward` and `loop`. */
export function corefile(domain = 'cluster.local'): string {
  return `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes ${domain} in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    cache 30 {
       disable success ${domain}
       disable denial ${domain}
    }
    reload
    loadbalance
}
`;
}

export const DNS_LABELS = { 'k8s-app': 'kube-dns' };

/** kubeadm's CoreDNS objects (a v1 List) for `plan`: the kube-dns Service on plan.clusterDNS, single-stack in the primary family as kubeadm makes it. */
export function coreDnsManifests(plan: ClusterPlan, image = COREDNS_IMAGE): Obj {
  const ns = 'kube-system';
  const port = (name: string, containerPort: number, protocol = 'TCP') => ({ name, containerPort, protocol });
  return list([
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: ns } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns' },
      rules: [
        { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: ns }],
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'coredns', namespace: ns }, data: { Corefile: corefile() } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: ns, labels: DNS_LABELS },
      spec: {
        replicas: Math.min(2, plan.nodes.length),
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        selector: { matchLabels: DNS_LABELS },
        template: {
          metadata: { labels: DNS_LABELS },
          spec: {
            priorityClassName: 'system-cluster-critical',
            serviceAccountName: 'coredns',
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  { weight: 100, podAffinityTerm: { labelSelector: { matchExpressions: [{ key: 'k8s-app', operator: 'In', values: ['kube-dns'] }] }, topologyKey: 'kubernetes.io/hostname' } },
                ],
              },
            },
            tolerations: [{ key: 'CriticalAddonsOnly', operator: 'Exists' }],
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            containers: [
              {
                name: 'coredns',
                image,
                imagePullPolicy: 'IfNotPresent',
                resources: { limits: { memory: '170Mi' }, requests: { cpu: '100m', memory: '70Mi' } },
                args: ['-conf', '/etc/coredns/Corefile'],
                volumeMounts: [{ name: 'config-volume', mountPath: '/etc/coredns', readOnly: true }],
                ports: [port('dns', 53, 'UDP'), port('dns-tcp', 53), port('metrics', 9153), port('liveness-probe', 8080), port('readiness-probe', 8181)],
                livenessProbe: { httpGet: { path: '/health', port: 'liveness-probe', scheme: 'HTTP' }, initialDelaySeconds: 60, timeoutSeconds: 5, successThreshold: 1, failureThreshold: 5 },
                readinessProbe: { httpGet: { path: '/ready', port: 'readiness-probe', scheme: 'HTTP' } },
                securityContext: { allowPrivilegeEscalation: false, capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] }, readOnlyRootFilesystem: true },
              },
            ],
            dnsPolicy: 'Default',
            volumes: [{ name: 'config-volume', configMap: { name: 'coredns', items: [{ key: 'Corefile', path: 'Corefile' }] } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: ns, labels: { ...DNS_LABELS, 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' }, annotations: { 'prometheus.io/port': '9153', 'prometheus.io/scrape': 'true' } },
      spec: {
        clusterIP: plan.clusterDNS,
        ipFamilyPolicy: 'SingleStack',
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
          { name: 'metrics', port: 9153, protocol: 'TCP', targetPort: 9153 },
        ],
        selector: DNS_LABELS,
      },
    },
  ]);
}

export const KUBE_PROXY_LABELS = { 'k8s-app': 'kube-proxy' };

/** kube-proxy's configuration in its DaemonSet (the stage 1 per-node one: kubeProxyConfig in configs.ts). */
export function kubeProxyPodConfig(plan: ClusterPlan, mode: 'iptables' | 'nftables' = 'iptables'): string {
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode,
    clientConnection: { kubeconfig: '/var/lib/kube-proxy/kubeconfig.conf' },
    // Every family's pod CIDR (dual: both, comma-separated, as kubeadm writes it).
    clusterCIDR: plan.clusterCIDRs.join(','),
    // nf_conntrack_max is global and read-only outside the host's namespace.
    conntrack: { maxPerCore: 0 },
    metricsBindAddress: '127.0.0.1:10249',
    healthzBindAddress: '0.0.0.0:10256',
  });
}

/** kubeadm's kube-proxy objects (a v1 List): `server` is the API server as the nodes reach it. */
export function kubeProxyManifests(plan: ClusterPlan, server: string, opts: { mode?: 'iptables' | 'nftables'; image?: string } = {}): Obj {
  const ns = 'kube-system';
  const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
  const kubeconfig = stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'default', cluster: { server, 'certificate-authority': `${sa}/ca.crt` } }],
    contexts: [{ name: 'default', context: { cluster: 'default', namespace: 'default', user: 'default' } }],
    'current-context': 'default',
    users: [{ name: 'default', user: { tokenFile: `${sa}/token` } }],
  });
  return list([
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'kube-proxy', namespace: ns } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'kubeadm:node-proxier' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:node-proxier' },
      subjects: [{ kind: 'ServiceAccount', name: 'kube-proxy', namespace: ns }],
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kube-proxy', namespace: ns, labels: { app: 'kube-proxy' } }, data: { 'config.conf': kubeProxyPodConfig(plan, opts.mode), 'kubeconfig.conf': kubeconfig } },
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'kube-proxy', namespace: ns, labels: KUBE_PROXY_LABELS },
      spec: {
        selector: { matchLabels: KUBE_PROXY_LABELS },
        updateStrategy: { type: 'RollingUpdate' },
        template: {
          metadata: { labels: KUBE_PROXY_LABELS },
          spec: {
            priorityClassName: 'system-node-critical',
            serviceAccountName: 'kube-proxy',
            hostNetwork: true,
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            tolerations: [{ operator: 'Exists' }],
            containers: [
              {
                name: 'kube-proxy',
                image: opts.image ?? kubeProxyImage(),
                imagePullPolicy: 'IfNotPresent',
                command: ['/usr/local/bin/kube-proxy', '--config=/var/lib/kube-proxy/config.conf', '--hostname-override=$(NODE_NAME)'],
                env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
                securityContext: { privileged: true },
                volumeMounts: [{ name: 'kube-proxy', mountPath: '/var/lib/kube-proxy' }],
              },
            ],
            volumes: [{ name: 'kube-proxy', configMap: { name: 'kube-proxy' } }],
          },
        },
      },
    },
  ]);
}
