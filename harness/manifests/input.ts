// What renderManifests needs, validated with zod. Only values that differ between
// clusters are inputs; everything else is decided by the templates.
import { z } from 'zod';
import {
  DNS1123_LABEL_FORM,
  DNS1123_SUBDOMAIN_FORM,
  IMAGE_REF_FORM,
  KpngError,
  argsProblems,
  backendNames,
  isBackend,
  nodeScopeProblem,
  deploymentModels,
  dns1123LabelSchema,
  dns1123SubdomainSchema,
  imagePullPolicies,
  imageRefSchema,
  ipFamilies,
} from '../config/index.ts';
import { clusterNetworks } from '../cluster/networks.ts';

const argList = z.array(z.string().min(1, { error: 'arguments are not empty strings' }));

function cidrFamily(cidr: string): 'v4' | 'v6' | undefined {
  if (z.cidrv4().safeParse(cidr).success) return 'v4';
  if (z.cidrv6().safeParse(cidr).success) return 'v6';
  return undefined;
}

function apiServerProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${JSON.stringify(value)} is not a URL`;
  }
  if (url.protocol !== 'https:') return `${JSON.stringify(value)} is not https`;
  if (url.hostname === '') return `${JSON.stringify(value)} has no host`;
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '') {
    return `${JSON.stringify(value)} has more than a scheme, host and port`;
  }
  return undefined;
}

export const manifestInputSchema = z
  .strictObject({
    /** A backend the proxy offers (`kpng backends --json`). */
    backend: z.string().refine((v) => isBackend(v), { error: (issue) => `${JSON.stringify(issue.input)} is not a backend the proxy offers` }),
    family: z.enum(ipFamilies),
    model: z.enum(deploymentModels),
    image: imageRefSchema,
    imagePullPolicy: z.enum(imagePullPolicies).default('IfNotPresent'),
    namespace: dns1123LabelSchema.default('kpng-system'),
    serviceAccountName: dns1123SubdomainSchema.default('kpng'),
    /** Name of the DaemonSet, ClusterRole and ClusterRoleBinding. */
    name: dns1123LabelSchema.default('kpng'),
    /**
     * The cluster's pod CIDR(s): the proxy's --cluster-cidr. Absent: derived from the family
     * (the kind cluster's table, harness/cluster/networks.ts) when the input is resolved.
     */
    podCIDRs: z.array(z.string()).min(1).max(2).optional(),
    /**
     * The API server as nodes reach it, e.g. https://kpng-proxy-control-plane:6443 (from
     * `kind get kubeconfig --internal`). Not the `kubernetes` Service: its cluster IP only
     * works once a service proxy runs, and this is the service proxy.
     */
    apiServer: z.string().superRefine((value, ctx) => {
      const message = apiServerProblem(value);
      if (message !== undefined) ctx.addIssue({ code: 'custom', message });
    }),
    /** Render and mount a kubeconfig ConfigMap of this name (else: the ServiceAccount's in-cluster config). */
    kubeconfigConfigMap: dns1123SubdomainSchema.optional(),
    /**
     * Several nodes on one kernel (the netns cluster): where a backend that hooks a cgroup's
     * sockets is kept to each node, as templates on $(NODE_NAME). Absent: one node per kernel
     * (kind), the cgroup2 root and the backend's default state folder.
     */
    nodeScope: z.strictObject({ cgroup: z.string().min(1), state: z.string().min(1) }).optional(),
    /** Container args instead of the defaults (e.g. tilt.env's e2e_backend_args / e2e_server_args). */
    args: z.strictObject({ backend: argList.min(1).optional(), server: argList.optional() }).optional(),
  })
  .transform((input) => ({ ...input, podCIDRs: input.podCIDRs ?? [...clusterNetworks[input.family].podCIDRs] }))
  .superRefine((input, ctx) => {
    const families = input.podCIDRs.map(cidrFamily);
    input.podCIDRs.forEach((cidr, i) => {
      if (families[i] === undefined) ctx.addIssue({ code: 'custom', path: ['podCIDRs', i], message: `${JSON.stringify(cidr)} is not a CIDR` });
    });
    if (families.includes(undefined)) return;
    const wanted = { ipv4: ['v4'], ipv6: ['v6'], dual: ['v4', 'v6'] }[input.family];
    if ([...families].sort().join() !== wanted.join()) {
      ctx.addIssue({
        code: 'custom',
        path: ['podCIDRs'],
        message: `${JSON.stringify(input.podCIDRs)} does not fit ip family ${input.family}: expected ${input.family === 'dual' ? 'one IPv4 and one IPv6 CIDR' : `one ${input.family === 'ipv4' ? 'IPv4' : 'IPv6'} CIDR`}`,
      });
    }
    if (input.nodeScope) {
      const problem = nodeScopeProblem(input.backend, input.nodeScope);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['nodeScope'], message: problem });
    }
    if (input.args) {
      const backendArgs = input.args.backend;
      const serverArgs = input.args.server ?? [];
      if (backendArgs === undefined) {
        ctx.addIssue({ code: 'custom', path: ['args', 'backend'], message: 'is required when args are given' });
        return;
      }
      for (const problem of argsProblems({
        backend: input.backend,
        model: input.model,
        backendArgs,
        serverArgs,
        kubeconfig: input.kubeconfigConfigMap !== undefined,
      })) {
        ctx.addIssue({ code: 'custom', path: ['args', problem.which], message: problem.message });
      }
    }
  });

/** What callers pass (defaults may be left out). */
export type ManifestInput = z.input<typeof manifestInputSchema>;
/** With the defaults filled in. */
export type ResolvedManifestInput = z.output<typeof manifestInputSchema>;

const accepted: Record<string, string> = {
  get backend() {
    return `one of ${backendNames().join(', ')} (kpng backends)`;
  },
  family: `one of ${ipFamilies.join(', ')}`,
  model: `one of ${deploymentModels.join(', ')}`,
  image: IMAGE_REF_FORM,
  imagePullPolicy: `one of ${imagePullPolicies.join(', ')}`,
  namespace: DNS1123_LABEL_FORM,
  serviceAccountName: DNS1123_SUBDOMAIN_FORM,
  name: DNS1123_LABEL_FORM,
  podCIDRs: 'absent (the table\'s for the family), or the pod CIDR per family, e.g. ["10.244.0.0/16"] or ["10.244.0.0/16", "fd00:10:244::/56"]',
  apiServer: 'https://<host>[:<port>], as nodes reach the API server (kind get kubeconfig --internal)',
  kubeconfigConfigMap: DNS1123_SUBDOMAIN_FORM,
  nodeScope: "absent, or { cgroup: the node's cgroup2 directory, state: a folder below the one the backend's scope names }, each may hold $(NODE_NAME)",
  args: 'lists of container arguments, { backend: [...], server: [...] } ([] or absent for the single model)',
};

/** Validate and fill in defaults; throws KPNG_ERR_MANIFEST_INPUT naming each field, what is wrong and what is accepted. */
export function parseManifestInput(input: ManifestInput): ResolvedManifestInput {
  const result = manifestInputSchema.safeParse(input);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const field = String(issue.path[0] ?? '');
    const where = issue.path.length > 0 ? issue.path.join('.') : '(input)';
    const form = accepted[field];
    return `  ${where}: ${issue.message}${form ? `; accepted: ${form}` : ''}`;
  });
  throw new KpngError('KPNG_ERR_MANIFEST_INPUT', ['the manifest input is not valid:', ...lines].join('\n'));
}
