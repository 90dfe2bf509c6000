import { KubeConfig } from '@kubernetes/client-node';
import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { clusterNetworks } from '../cluster/index.ts';
import {
  HEALTHZ_PORT,
  METRICS_PORT,
  parseTiltEnv,
  proxyArgs,
  proxyBackend,
  proxyBackends,
  readProxyBackends,
  tiltEnvFor,
  useProxyBackends,
  type ProxyBackend,
} from '../config/index.ts';
import type { ManifestInput } from './input.ts';
import { KIND_API_SERVER, manifestInputFromTiltEnv, manifestMatrix } from './matrix.ts';
import { renderDocuments, renderManifests, templateNames, type ManifestDocument } from './render.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

interface Container {
  name: string;
  args: string[];
  env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath?: string } } }[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: { httpGet: { path: string; port: string } };
  readinessProbe?: { httpGet: { path: string; port: string } };
  securityContext: {
    privileged: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
    readOnlyRootFilesystem?: boolean;
  };
  volumeMounts: { name: string; mountPath: string; readOnly: boolean }[];
}

interface Volume {
  name: string;
  hostPath?: { path: string; type?: string };
  emptyDir?: object;
  configMap?: { name: string };
}

interface DaemonSet {
  metadata: { name: string; namespace: string };
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: {
        serviceAccountName: string;
        priorityClassName: string;
        hostNetwork: boolean;
        dnsPolicy: string;
        tolerations: { operator: string }[];
        containers: Container[];
        volumes: Volume[];
      };
    };
  };
}

function daemonSet(docs: ManifestDocument[]): DaemonSet {
  const doc = docs.find((d) => d.kind === 'DaemonSet');
  expect(doc).toBeDefined();
  return doc!.object as unknown as DaemonSet;
}

const matrix = manifestMatrix();
const byId = (id: string): ManifestInput => matrix.find((e) => e.id === id)!.input;

describe('renderManifests: one snapshot per backend × family × deployment model', () => {
  it('covers every backend the proxy offers (kpng backends --json) × 3 families × 2 models', () => {
    const offered = proxyBackends().map((b) => b.name);
    expect(offered).toEqual(readProxyBackends().map((b) => b.name));
    expect(matrix).toHaveLength(offered.length * 3 * 2);
    expect(new Set(matrix.map((e) => e.id)).size).toBe(matrix.length);
    expect([...new Set(matrix.map((e) => e.input.backend))]).toEqual(offered);
  });

  it.each(matrix)('$id', async ({ id, input }) => {
    await expect(renderManifests(input)).toMatchFileSnapshot(`./__snapshots__/${id}.yaml`);
  });

  it('has no snapshot left over from an entry that no longer exists', async () => {
    const files = (await readdir(new URL('./__snapshots__/', import.meta.url))).filter((f) => f.endsWith('.yaml'));
    expect(files.sort()).toEqual(matrix.map((e) => `${e.id}.yaml`).sort());
  });
});

describe('every rendered document', () => {
  it.each(matrix)('$id: parses as YAML and has apiVersion, kind, metadata.name, the input namespace', ({ input }) => {
    const stream = renderManifests(input);
    const parsed = parseAllDocuments(stream);
    expect('empty' in parsed).toBe(false);
    const docs = parsed.map((doc) => {
      expect(doc.errors).toEqual([]);
      expect(doc.warnings).toEqual([]);
      return doc.toJS() as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
    });
    expect(docs.map((d) => d.kind)).toEqual(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'DaemonSet']);
    for (const doc of docs) {
      expect(typeof doc.apiVersion).toBe('string');
      expect(typeof doc.kind).toBe('string');
      expect(typeof doc.metadata?.name).toBe('string');
      if (['ServiceAccount', 'ConfigMap', 'DaemonSet'].includes(String(doc.kind))) expect(doc.metadata?.namespace).toBe('kpng-system');
      else expect(doc.metadata?.namespace).toBeUndefined();
    }
    for (const line of stream.split('\n')) expect(line).toBe(line.trimEnd());
  });
});

describe('the DaemonSet', () => {
  it.each(matrix)('$id: host network, node-critical, tolerates every taint, probes and scrape annotations', ({ input }) => {
    const ds = daemonSet(renderDocuments(input));
    const pod = ds.spec.template.spec;
    expect(pod.hostNetwork).toBe(true);
    // Not ClusterFirstWithHostNet: cluster DNS is a Service this proxy has yet to program, and
    // the API server's name must resolve before it can.
    expect(pod.dnsPolicy).toBe('Default');
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(pod.serviceAccountName).toBe('kpng');
    expect(ds.spec.template.metadata.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(METRICS_PORT),
      'prometheus.io/path': '/metrics',
    });
    for (const [key, value] of Object.entries(ds.spec.selector.matchLabels)) expect(ds.spec.template.metadata.labels[key]).toBe(value);

    const serving = pod.containers.filter((c) => c.ports !== undefined);
    expect(serving).toHaveLength(1);
    const backend = serving[0]!;
    expect(backend.ports).toEqual([
      { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' },
      { name: 'healthz', containerPort: HEALTHZ_PORT, protocol: 'TCP' },
    ]);
    expect(backend.livenessProbe?.httpGet).toEqual({ path: '/livez', port: 'healthz' });
    expect(backend.readinessProbe?.httpGet).toEqual({ path: '/healthz', port: 'healthz' });
    expect(backend.args).toContain(`to-${input.backend}`);
    // The pod CIDRs, to a backend that takes them (its stage's flags); another would refuse the flag.
    const takesCidrs = proxyBackend(input.backend).flags.some((f) => f.name === 'cluster-cidr');
    if (takesCidrs) expect(backend.args).toContain(`--cluster-cidr=${clusterNetworks[input.family].podCIDRs.join(',')}`);
    else expect(backend.args.join(' ')).not.toContain('--cluster-cidr');
    expect(backend.args).toContain(`--metrics-bind-address=0.0.0.0:${METRICS_PORT}`);
    expect(backend.args).toContain('--node-name=$(NODE_NAME)');
  });

  it.each(matrix)('$id: every container that says $(NODE_NAME) has NODE_NAME from spec.nodeName', ({ input }) => {
    for (const container of daemonSet(renderDocuments(input)).spec.template.spec.containers) {
      if (!container.args.some((a) => a.includes('$(NODE_NAME)'))) continue;
      expect(container.env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    }
  });

  it.each(matrix)("$id: the dataplane container mounts the host paths its backend's descriptor names, and only the dataplane container", ({ input }) => {
    const pod = daemonSet(renderDocuments(input)).spec.template.spec;
    const dataplane = pod.containers.find((c) => c.ports)!;
    const needs = proxyBackend(input.backend).pod;
    for (const m of needs.hostMounts) {
      expect(dataplane.volumeMounts).toContainEqual({ name: m.name, mountPath: m.path, readOnly: m.readOnly });
      expect(pod.volumes).toContainEqual({ name: m.name, hostPath: { path: m.path, ...(m.type && { type: m.type }) } });
    }
    const hostPaths = pod.volumes.filter((v) => v.hostPath).map((v) => v.name);
    expect(hostPaths).toEqual(needs.hostMounts.map((m) => m.name));
    for (const c of pod.containers.filter((c) => c !== dataplane)) for (const m of c.volumeMounts) expect(hostPaths).not.toContain(m.name);
    const names = new Set(pod.volumes.map((v) => v.name));
    for (const container of pod.containers) for (const mount of container.volumeMounts) expect(names).toContain(mount.name);
  });

  it("grants each dataplane container exactly its descriptor's privileges (every other capability dropped), the server container none", () => {
    for (const { id, input } of matrix) {
      const security = proxyBackend(input.backend).pod;
      for (const container of daemonSet(renderDocuments(input)).spec.template.spec.containers) {
        const isDataplane = container.ports !== undefined;
        const context = container.securityContext;
        expect(context.readOnlyRootFilesystem, id).toBe(true);
        // SYS_ADMIN only where the descriptor asks for it, and says why in its reason.
        if (isDataplane && security.capabilities.includes('SYS_ADMIN')) expect(security.reason, id).toContain('SYS_ADMIN');
        else expect(context.capabilities?.add ?? [], id).not.toContain('SYS_ADMIN');
        if (isDataplane && security.privileged) {
          expect(context, id).toEqual({ privileged: true, readOnlyRootFilesystem: true });
          continue;
        }
        expect(context.privileged, id).toBe(false);
        expect(context.allowPrivilegeEscalation, id).toBe(false);
        expect(context.capabilities?.drop, id).toEqual(['ALL']);
        expect(context.capabilities?.add ?? [], id).toEqual(isDataplane ? security.capabilities : []);
      }
    }
    expect(proxyBackend('iptables').pod.capabilities).toEqual(['NET_ADMIN', 'NET_RAW']);
    expect(proxyBackend('nft').pod.capabilities).toEqual(['NET_ADMIN', 'NET_RAW']);
  });

  it("a backend registered with the proxy joins the matrix, and its pod gets the privileges and host mounts of its descriptor", () => {
    // As `kpng to-fake --describe` would print a descriptor registered with the proxy.
    const fake: ProxyBackend = {
      name: 'fake',
      stage: 'to-fake',
      proxyMode: 'fakemode',
      summary: 'a backend that only a test registers',
      flags: [],
      metrics: { family: 'fake', failures: 'none', failureCounters: [] },
      pod: {
        privileged: false,
        capabilities: ['NET_ADMIN', 'NET_BIND_SERVICE'],
        reason: 'binds service ports itself',
        hostMounts: [{ name: 'bpf', path: '/sys/fs/bpf', type: 'DirectoryOrCreate', readOnly: false, why: 'pinned maps' }],
        packages: [],
      },
      proof: 'rendered-and-traced',
      scope: { kind: 'network-namespace' },
      subjects: [{ id: 'fake', title: 'fake', args: [] }],
    };
    const restore = useProxyBackends([...proxyBackends(), fake]);
    try {
      const ids = manifestMatrix().map((e) => e.id);
      expect(ids).toContain('fake-dual-split-process-per-node');
      const pod = daemonSet(renderDocuments(manifestMatrix().find((e) => e.id === 'fake-ipv4-single-process-per-node')!.input)).spec.template.spec;
      expect(pod.containers[0]?.args).toContain('to-fake');
      expect(pod.containers[0]?.securityContext.capabilities?.add).toEqual(['NET_ADMIN', 'NET_BIND_SERVICE']);
      expect(pod.containers[0]?.volumeMounts).toContainEqual({ name: 'bpf', mountPath: '/sys/fs/bpf', readOnly: false });
      expect(pod.volumes.filter((v) => v.hostPath)).toEqual([{ name: 'bpf', hostPath: { path: '/sys/fs/bpf', type: 'DirectoryOrCreate' } }]);
      const privileged: ProxyBackend = { ...fake, pod: { ...fake.pod, privileged: true } };
      useProxyBackends([privileged]);
      const ctx = daemonSet(renderDocuments({ ...manifestMatrix()[0]!.input })).spec.template.spec.containers[0]?.securityContext;
      expect(ctx).toEqual({ privileged: true, readOnlyRootFilesystem: true });
    } finally {
      restore();
    }
    expect(manifestMatrix().map((e) => e.id)).not.toContain('fake-ipv4-single-process-per-node');
    expect(() => renderDocuments({ ...manifestMatrix()[0]!.input, backend: 'fake' })).toThrow(/backend: "fake" is not a backend the proxy offers; accepted: one of iptables, nft/);
  });

  it('single-process-per-node: one container, kpng kube to-local to-<backend>', () => {
    const pod = daemonSet(renderDocuments(byId('iptables-ipv4-single-process-per-node'))).spec.template.spec;
    expect(pod.containers.map((c) => c.name)).toEqual(['kpng']);
    expect(pod.containers[0]?.args).toEqual([
      'kube',
      'to-local',
      '--node-name=$(NODE_NAME)',
      'to-iptables',
      '--cluster-cidr=10.244.0.0/16',
      '--metrics-bind-address=0.0.0.0:10249',
    ]);
    expect(pod.volumes.map((v) => v.name)).not.toContain('kpng-socket');
  });

  it('split-process-per-node: a server (to-api) and a backend (local) container sharing an emptyDir at /k8s', () => {
    const pod = daemonSet(renderDocuments(byId('nft-dual-split-process-per-node'))).spec.template.spec;
    const [server, backend] = pod.containers;
    expect(pod.containers.map((c) => c.name)).toEqual(['kpng-server', 'kpng-backend']);
    expect(server?.args).toEqual(['kube', 'to-api', '--listen=unix:///k8s/proxy.sock']);
    expect(backend?.args).toEqual([
      'local',
      '--api=unix:///k8s/proxy.sock',
      '--node-name=$(NODE_NAME)',
      'to-nft',
      '--cluster-cidr=10.244.0.0/16,fd00:10:244::/56',
      '--metrics-bind-address=0.0.0.0:10249',
    ]);
    for (const container of [server, backend]) {
      expect(container?.volumeMounts).toContainEqual({ name: 'kpng-socket', mountPath: '/k8s', readOnly: false });
    }
    expect(pod.volumes).toContainEqual({ name: 'kpng-socket', emptyDir: {} });
    // The server talks to the API server only: no capabilities, no host paths.
    expect(server?.securityContext.capabilities).toEqual({ drop: ['ALL'] });
    expect(server?.volumeMounts.map((m) => m.name)).toEqual(['tmp', 'kpng-socket']);
  });

  it('points in-cluster config at the real API server (the kubernetes Service needs this proxy first)', () => {
    const single = daemonSet(renderDocuments(byId('iptables-ipv4-single-process-per-node'))).spec.template.spec.containers[0]!;
    expect(single.env).toEqual([
      { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      { name: 'KUBERNETES_SERVICE_HOST', value: 'kpng-proxy-control-plane' },
      { name: 'KUBERNETES_SERVICE_PORT', value: '6443' },
    ]);
    const v6 = daemonSet(renderDocuments({ ...byId('nft-ipv6-split-process-per-node'), apiServer: 'https://[fd00::2]' })).spec.template.spec;
    expect(v6.containers[0]?.env.slice(1)).toEqual([
      { name: 'KUBERNETES_SERVICE_HOST', value: 'fd00::2' },
      { name: 'KUBERNETES_SERVICE_PORT', value: '443' },
    ]);
    expect(v6.containers[1]?.env.map((e) => e.name)).toEqual(['NODE_NAME']);
  });
});

describe('the kubeconfig ConfigMap option', () => {
  const input: ManifestInput = { ...byId('iptables-ipv4-split-process-per-node'), kubeconfigConfigMap: 'kpng-kubeconfig' };
  const docs = renderDocuments(input);

  it('renders the ConfigMap before the DaemonSet, mounts it on the kube side, passes --kubeconfig', () => {
    expect(docs.map((d) => d.kind)).toEqual(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet']);
    const pod = daemonSet(docs).spec.template.spec;
    const [server, backend] = pod.containers;
    expect(server?.args).toEqual(['kube', '--kubeconfig=/var/lib/kpng/kubeconfig.conf', 'to-api', '--listen=unix:///k8s/proxy.sock']);
    expect(server?.volumeMounts).toContainEqual({ name: 'kubeconfig', mountPath: '/var/lib/kpng', readOnly: true });
    expect(server?.env.map((e) => e.name)).toEqual(['NODE_NAME']);
    expect(backend?.volumeMounts.map((m) => m.name)).not.toContain('kubeconfig');
    expect(pod.volumes).toContainEqual({ name: 'kubeconfig', configMap: { name: 'kpng-kubeconfig' } });
  });

  it('holds a kubeconfig the proxy client library reads: the real server, the ServiceAccount CA and token', () => {
    const configMap = docs.find((d) => d.kind === 'ConfigMap')!.object as { data: Record<string, string> };
    const kc = new KubeConfig();
    kc.loadFromString(configMap.data['kubeconfig.conf']!);
    expect(kc.getCurrentCluster()).toMatchObject({
      server: KIND_API_SERVER,
      caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
    });
    expect(kc.getCurrentUser()?.authProvider).toEqual({
      name: 'tokenFile',
      config: { tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
    });
    expect(kc.getContextObject(kc.getCurrentContext())?.namespace).toBe('kpng-system');
  });
});

describe('RBAC', () => {
  const docs = renderDocuments(byId('iptables-ipv4-single-process-per-node'));

  it('grants only what a service proxy reads and the events it writes', () => {
    const role = docs.find((d) => d.kind === 'ClusterRole')!.object as { rules: unknown[] };
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['services'], verbs: ['list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
    ]);
    expect(JSON.stringify(role.rules)).not.toContain('*');
  });

  it('binds the role to the ServiceAccount the DaemonSet runs as', () => {
    const binding = docs.find((d) => d.kind === 'ClusterRoleBinding')!.object;
    expect(binding).toMatchObject({
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kpng' },
      subjects: [{ kind: 'ServiceAccount', name: 'kpng', namespace: 'kpng-system' }],
    });
    expect(docs.find((d) => d.kind === 'ServiceAccount')).toMatchObject({ name: 'kpng', namespace: 'kpng-system' });
  });

  it('labels its own namespace for privileged pods, and leaves system namespaces alone', () => {
    expect(docs[0]?.object).toMatchObject({ kind: 'Namespace', metadata: { labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } } });
    for (const namespace of ['kube-system', 'default']) {
      const kinds = renderDocuments({ ...byId('iptables-ipv4-single-process-per-node'), namespace }).map((d) => d.kind);
      expect(kinds).not.toContain('Namespace');
    }
  });
});

describe('nothing cluster-specific is hard-coded', () => {
  it('every cluster value comes from the input', () => {
    const stream = renderManifests({
      backend: 'nft',
      family: 'dual',
      model: 'split-process-per-node',
      image: 'registry.example:5000/team/proxy:v9',
      namespace: 'net-proxy',
      serviceAccountName: 'proxy-sa',
      name: 'svcproxy',
      podCIDRs: ['192.168.0.0/17', 'fd12:3456::/64'],
      apiServer: 'https://10.20.30.40:7443',
      kubeconfigConfigMap: 'proxy-kubeconfig',
    });
    for (const value of ['kpng-proxy', 'kpng-system', 'kpng:dev', '10.244.', 'fd00:10:244', '10.96.', 'fd00:10:96', '6443']) {
      expect(stream, value).not.toContain(value);
    }
    for (const value of ['registry.example:5000/team/proxy:v9', 'net-proxy', 'proxy-sa', 'svcproxy', '192.168.0.0/17,fd12:3456::/64', 'https://10.20.30.40:7443']) {
      expect(stream, value).toContain(value);
    }
  });

  it('the templates hold no address, CIDR or cluster name', async () => {
    for (const name of templateNames) {
      const text = await readFile(new URL(`./templates/${name}.yaml.hbs`, import.meta.url), 'utf8');
      expect(text, name).not.toMatch(/\b\d+\.\d+\.\d+\.\d+\b|[0-9a-f]*:[0-9a-f]*::|kpng-proxy|kpng-system/);
    }
    const files = await readdir(new URL('./templates/', import.meta.url));
    expect(files.sort()).toEqual(templateNames.map((n) => `${n}.yaml.hbs`).sort());
  });
});

describe('the input', () => {
  const base = byId('iptables-ipv4-single-process-per-node');

  it('rejects what does not fit, naming the field and the accepted form', () => {
    expect(() => renderManifests({ ...base, namespace: 'tilt.dev' })).toThrow(
      /KPNG_ERR_MANIFEST_INPUT: the manifest input is not valid:\n {2}namespace: "tilt.dev" contains "\." \(a label has no dots\); accepted: a DNS-1123 label/,
    );
    expect(() => renderManifests({ ...base, family: 'dual', podCIDRs: ['10.244.0.0/16'] })).toThrow(
      /podCIDRs: \["10.244.0.0\/16"\] does not fit ip family dual: expected one IPv4 and one IPv6 CIDR; accepted: /,
    );
    expect(() => renderManifests({ ...base, podCIDRs: ['10.244.0.0/33'] })).toThrow(/podCIDRs.0: "10.244.0.0\/33" is not a CIDR/);
    expect(() => renderManifests({ ...base, apiServer: 'http://x:8080' })).toThrow(/apiServer: "http:\/\/x:8080" is not https; accepted: https:\/\/<host>/);
    expect(() => renderManifests({ ...base, image: 'Kpng' })).toThrow(/image: "Kpng": repository names are lower-case/);
    expect(() => renderManifests({ ...base, args: { backend: ['kube', 'to-local', 'to-nft'] } })).toThrow(
      /args.backend: runs "to-nft" but the backend is iptables/,
    );
    expect(() => renderManifests({ ...base, extra: true } as ManifestInput)).toThrow(/Unrecognized key/);
  });

  it('uses the given args, as tilt.env gives them, with the pod CIDRs of the family after the backend stage', () => {
    const args = ['kube', 'to-local', '--node-name=$(NODE_NAME)', 'to-iptables', '--v=4'];
    const pod = daemonSet(renderDocuments({ ...base, args: { backend: args } })).spec.template.spec;
    expect(pod.containers[0]?.args).toEqual(['kube', 'to-local', '--node-name=$(NODE_NAME)', 'to-iptables', '--cluster-cidr=10.244.0.0/16', '--v=4']);
  });

  it('refuses a --cluster-cidr in the given args: it is derived from the family', () => {
    const args = ['kube', 'to-local', '--node-name=$(NODE_NAME)', 'to-iptables', '--cluster-cidr=10.244.0.0/16'];
    expect(() => renderDocuments({ ...base, family: 'dual', args: { backend: args } })).toThrow(
      /args.backend: passes "--cluster-cidr=10.244.0.0\/16", but --cluster-cidr is derived from the IP family/,
    );
  });
});

describe('a node scope: several nodes on one kernel (the netns cluster)', () => {
  const nodeScope = { cgroup: '/sys/fs/cgroup/unified/kpng-kc12ab/$(NODE_NAME)', state: '/sys/fs/bpf/kc12ab-$(NODE_NAME)' };
  const cgroupScoped = proxyBackends().flatMap((b) => (b.scope.kind === 'cgroup' ? [{ name: b.name, scope: b.scope }] : []));
  const namespaceScoped = proxyBackends().filter((b) => b.scope.kind === 'network-namespace');

  it("gives a backend that hooks a cgroup's sockets the node's cgroup2 directory and its own state folder, through the flags its scope names, right after its stage", () => {
    expect(cgroupScoped.length).toBeGreaterThan(0);
    for (const b of cgroupScoped) {
      for (const model of ['single-process-per-node', 'split-process-per-node'] as const) {
        const pod = daemonSet(renderDocuments({ ...byId(`${b.name}-ipv4-${model}`), nodeScope })).spec.template.spec;
        const dataplane = pod.containers.at(-1)!;
        const at = dataplane.args.indexOf(`to-${b.name}`);
        expect(dataplane.args.slice(at + 1, at + 3)).toEqual([`--${b.scope.cgroupFlag}=${nodeScope.cgroup}`, `--${b.scope.stateFlag.name}=${nodeScope.state}`]);
        // $(NODE_NAME) is the downward API's spec.nodeName in that container.
        expect(dataplane.env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
      }
    }
  });

  it('leaves a backend whose rules live in the network namespace as it is, and renders a cgroup-scoped one without it as on kind (the cgroup2 root, one node per kernel)', () => {
    for (const b of namespaceScoped) {
      const id = `${b.name}-ipv4-single-process-per-node`;
      expect(renderManifests({ ...byId(id), nodeScope })).toEqual(renderManifests(byId(id)));
    }
    for (const b of cgroupScoped) {
      const args = daemonSet(renderDocuments(byId(`${b.name}-ipv4-single-process-per-node`))).spec.template.spec.containers[0]!.args;
      expect(args.filter((a) => a.startsWith(`--${b.scope.cgroupFlag}=`) || a.startsWith(`--${b.scope.stateFlag.name}=`))).toEqual([]);
    }
  });

  it('refuses a state folder outside the one the scope names', () => {
    for (const b of cgroupScoped) {
      expect(() => renderDocuments({ ...byId(`${b.name}-ipv4-single-process-per-node`), nodeScope: { ...nodeScope, state: '/tmp/x' } })).toThrow(
        new RegExp(`KPNG_ERR_MANIFEST_INPUT: the manifest input is not valid:\n {2}nodeScope: "/tmp/x" is not a folder below ${b.scope.stateFlag.under}`),
      );
      expect(() => renderDocuments({ ...byId(`${b.name}-ipv4-single-process-per-node`), nodeScope: { ...nodeScope, state: `${b.scope.stateFlag.under}/../etc` } })).toThrow(/nodeScope: .* is not a folder below/);
    }
  });
});

describe('tilt.env.example', () => {
  it('is the tilt.env for iptables × ipv4 × single on the cluster table, and renders', async () => {
    const { env } = parseTiltEnv(await readFile(path.join(repoRoot, 'tilt.env.example'), 'utf8'), { file: 'tilt.env.example' });
    expect(env).toEqual(
      tiltEnvFor({ backend: 'iptables', family: 'ipv4', model: 'single-process-per-node' }),
    );
    const docs = renderDocuments(manifestInputFromTiltEnv(env, { apiServer: KIND_API_SERVER }));
    expect(daemonSet(docs).spec.template.spec.containers[0]?.args).toEqual(proxyArgs({ backend: 'iptables', model: 'single-process-per-node', kubeconfig: false, podCIDRs: clusterNetworks.ipv4.podCIDRs }).backend);
    expect(renderManifests(manifestInputFromTiltEnv(env, { apiServer: KIND_API_SERVER }))).toBe(
      renderManifests(byId('iptables-ipv4-single-process-per-node')),
    );
  });
});

describe('ip_family in tilt.env', () => {
  it.each(['ipv4', 'ipv6', 'dual'] as const)('%s: the DaemonSet gets the pod CIDRs of the family, whatever family the file was written for', async (family) => {
    // An operator switches the example's family by hand: nothing else in the file has to change.
    const text = (await readFile(path.join(repoRoot, 'tilt.env.example'), 'utf8')).replace(/^ip_family=.*$/m, `ip_family=${family}`);
    const { env } = parseTiltEnv(text, { file: 'tilt.env', strict: true });
    const args = daemonSet(renderDocuments(manifestInputFromTiltEnv(env, { apiServer: KIND_API_SERVER }))).spec.template.spec.containers[0]?.args ?? [];
    expect(args.filter((a) => a.startsWith('--cluster-cidr'))).toEqual([`--cluster-cidr=${clusterNetworks[family].podCIDRs.join(',')}`]);
  });

  it('the dual snapshots show both pod CIDRs (of a backend that takes them)', async () => {
    for (const { id } of manifestMatrix().filter((e) => e.id.includes('-dual-') && proxyBackend(e.input.backend).flags.some((f) => f.name === 'cluster-cidr'))) {
      const text = await readFile(new URL(`./__snapshots__/${id}.yaml`, import.meta.url), 'utf8');
      expect(text, id).toContain('"--cluster-cidr=10.244.0.0/16,fd00:10:244::/56"');
    }
  });
});
