// renderManifests: the proxy's Kubernetes objects for one backend × family × deployment
// model, as multi-document YAML. The templates (templates/*.yaml.hbs) give each object its
// shape; this file decides the containers and their arguments. Privileges and host mounts
// are the backend's own: its descriptor's pod needs, as `kpng backends --json` gives them.
import Handlebars from 'handlebars';
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import {
  HEALTHZ_PORT,
  KUBECONFIG_DIR,
  KUBECONFIG_FILE,
  KpngError,
  METRICS_PORT,
  SOCKET_DIR,
  baseProxyArgs,
  proxyBackend,
  withClusterCIDRs,
  withNodeScope,
} from '../config/index.ts';
import { parseManifestInput, type ManifestInput, type ResolvedManifestInput } from './input.ts';

export const templateNames = [
  'namespace',
  'serviceaccount',
  'clusterrole',
  'clusterrolebinding',
  'kubeconfig-configmap',
  'daemonset',
] as const;
export type TemplateName = (typeof templateNames)[number];

const handlebars = Handlebars.create();
handlebars.registerHelper('json', (value: unknown) => JSON.stringify(value));

const compiled = new Map<TemplateName, Handlebars.TemplateDelegate>();

function template(name: TemplateName): Handlebars.TemplateDelegate {
  let found = compiled.get(name);
  if (found === undefined) {
    const source = readFileSync(new URL(`./templates/${name}.yaml.hbs`, import.meta.url), 'utf8');
    found = handlebars.compile(source, { noEscape: true, strict: true });
    compiled.set(name, found);
  }
  return found;
}

interface KeyValue {
  key: string;
  value: string;
}

interface EnvView {
  name: string;
  value: string | null;
  fieldPath: string | null;
}

interface MountView {
  name: string;
  mountPath: string;
  readOnly: boolean;
}

interface ContainerView {
  name: string;
  args: string[];
  env: EnvView[];
  /** Serves metrics and health: ports and probes. */
  serves: boolean;
  privileged: boolean;
  capabilities: readonly string[];
  mounts: MountView[];
}

interface VolumeView {
  name: string;
  hostPath: { path: string; type: string | null } | null;
  emptyDir: boolean;
  configMap: string | null;
}

interface View {
  name: string;
  namespace: string;
  serviceAccountName: string;
  image: string;
  imagePullPolicy: string;
  labels: KeyValue[];
  podLabels: KeyValue[];
  metricsPort: number;
  metricsPortText: string;
  healthzPort: number;
  apiServer: { url: string; host: string; port: string };
  kubeconfig: { configMapName: string; file: string } | null;
  containers: ContainerView[];
  volumes: VolumeView[];
}

const VOLUME = {
  tmp: 'tmp',
  socket: 'kpng-socket',
  kubeconfig: 'kubeconfig',
} as const;

function apiServerParts(url: string): View['apiServer'] {
  const parsed = new URL(url);
  return { url, host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port: parsed.port === '' ? '443' : parsed.port };
}

function viewOf(input: ResolvedManifestInput): View {
  const kubeconfig = input.kubeconfigConfigMap === undefined ? null : { configMapName: input.kubeconfigConfigMap, file: KUBECONFIG_FILE };
  const defaults = baseProxyArgs({ backend: input.backend, model: input.model, kubeconfig: kubeconfig !== null });
  const given = input.args ? { backend: input.args.backend ?? defaults.backend, server: input.args.server ?? [] } : defaults;
  // The pod CIDRs follow from the family (or the input's cluster): set here, never stored in args.
  const args = withNodeScope(withClusterCIDRs(given, input.backend, input.podCIDRs), input.backend, input.nodeScope);
  const apiServer = apiServerParts(input.apiServer);
  const split = input.model === 'split-process-per-node';

  const nodeName: EnvView = { name: 'NODE_NAME', value: null, fieldPath: 'spec.nodeName' };
  // In-cluster config reads the API server from these; the kubelet points them at the
  // `kubernetes` Service, whose cluster IP only this proxy makes reachable.
  const apiServerEnv: EnvView[] =
    kubeconfig === null
      ? [
          { name: 'KUBERNETES_SERVICE_HOST', value: apiServer.host, fieldPath: null },
          { name: 'KUBERNETES_SERVICE_PORT', value: apiServer.port, fieldPath: null },
        ]
      : [];
  const tmp: MountView = { name: VOLUME.tmp, mountPath: '/tmp', readOnly: false };
  const socket: MountView = { name: VOLUME.socket, mountPath: SOCKET_DIR, readOnly: false };
  const kubeconfigMount: MountView[] = kubeconfig ? [{ name: VOLUME.kubeconfig, mountPath: KUBECONFIG_DIR, readOnly: true }] : [];
  // What the backend's container needs from the node: its descriptor's pod needs.
  const pod = proxyBackend(input.backend).pod;
  const dataplaneMounts: MountView[] = pod.hostMounts.map((m) => ({ name: m.name, mountPath: m.path, readOnly: m.readOnly }));
  const dataplane = { serves: true, privileged: pod.privileged, capabilities: pod.privileged ? [] : pod.capabilities };

  const containers: ContainerView[] = split
    ? [
        {
          name: `${input.name}-server`,
          args: args.server,
          env: [nodeName, ...apiServerEnv],
          serves: false,
          privileged: false,
          capabilities: [],
          mounts: [tmp, socket, ...kubeconfigMount],
        },
        { name: `${input.name}-backend`, args: args.backend, env: [nodeName], ...dataplane, mounts: [tmp, socket, ...dataplaneMounts] },
      ]
    : [{ name: input.name, args: args.backend, env: [nodeName, ...apiServerEnv], ...dataplane, mounts: [tmp, ...kubeconfigMount, ...dataplaneMounts] }];

  const volumes: VolumeView[] = [
    { name: VOLUME.tmp, hostPath: null, emptyDir: true, configMap: null },
    ...(split ? [{ name: VOLUME.socket, hostPath: null, emptyDir: true, configMap: null }] : []),
    ...(kubeconfig ? [{ name: VOLUME.kubeconfig, hostPath: null, emptyDir: false, configMap: kubeconfig.configMapName }] : []),
    ...pod.hostMounts.map((m) => ({ name: m.name, hostPath: { path: m.path, type: m.type ?? null }, emptyDir: false, configMap: null })),
  ];

  const labels: KeyValue[] = [
    { key: 'app.kubernetes.io/name', value: input.name },
    { key: 'app.kubernetes.io/part-of', value: 'kpng' },
    { key: 'app.kubernetes.io/managed-by', value: 'kpng-harness' },
  ];
  return {
    name: input.name,
    namespace: input.namespace,
    serviceAccountName: input.serviceAccountName,
    image: input.image,
    imagePullPolicy: input.imagePullPolicy,
    labels,
    podLabels: [
      ...labels,
      { key: 'kpng/backend', value: input.backend },
      { key: 'kpng/ip-family', value: input.family },
      { key: 'kpng/deployment-model', value: input.model },
    ],
    metricsPort: METRICS_PORT,
    metricsPortText: String(METRICS_PORT),
    healthzPort: HEALTHZ_PORT,
    apiServer,
    kubeconfig,
    containers,
    volumes,
  };
}

export interface ManifestDocument {
  apiVersion: string;
  kind: string;
  name: string;
  /** For namespaced objects. */
  namespace?: string;
  /** The rendered document (ends with a newline). */
  yaml: string;
  /** The document as parsed YAML. */
  object: Record<string, unknown>;
}

/** Namespaces that exist in every cluster and are not ours to label. */
export function isSystemNamespace(namespace: string): boolean {
  return namespace === 'default' || namespace.startsWith('kube-');
}

function renderOne(name: TemplateName, view: View): ManifestDocument {
  const text = template(name)(view);
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || doc.warnings.length > 0) {
    const first = doc.errors[0] ?? doc.warnings[0];
    throw new KpngError('KPNG_ERR_MANIFEST_TEMPLATE', `templates/${name}.yaml.hbs rendered YAML that does not parse: ${first?.message ?? ''}`);
  }
  const object = doc.toJS() as Record<string, unknown>;
  const metadata = (object.metadata ?? {}) as { name?: string; namespace?: string };
  return {
    apiVersion: String(object.apiVersion),
    kind: String(object.kind),
    name: String(metadata.name),
    ...(metadata.namespace === undefined ? {} : { namespace: metadata.namespace }),
    yaml: text,
    object,
  };
}

/** The objects, in the order to apply them: Namespace (unless a system one), ServiceAccount, RBAC, ConfigMap (if any), DaemonSet. */
export function renderDocuments(input: ManifestInput): ManifestDocument[] {
  const resolved = parseManifestInput(input);
  const view = viewOf(resolved);
  const names: TemplateName[] = [
    ...(isSystemNamespace(resolved.namespace) ? [] : (['namespace'] as const)),
    'serviceaccount',
    'clusterrole',
    'clusterrolebinding',
    ...(view.kubeconfig ? (['kubeconfig-configmap'] as const) : []),
    'daemonset',
  ];
  return names.map((name) => renderOne(name, view));
}

/** All objects as one multi-document YAML stream (for kubectl apply -f -). */
export function renderManifests(input: ManifestInput): string {
  return renderDocuments(input)
    .map((doc) => doc.yaml)
    .join('---\n');
}
