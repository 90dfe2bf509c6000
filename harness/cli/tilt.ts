// make tilt-setup / tilt-up / tilt-down, and the two commands the Tiltfile calls to read
// tilt.env through the validating reader (tilt-env) and to render the DaemonSet
// (tilt-manifests). KPNG's loop, with tilt.env checked before anything runs.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  KpngError,
  backendNames,
  checkProxyFlags,
  deploymentModels,
  imagePullPolicies,
  ipFamilies,
  readTiltEnv,
  tiltEnvDefaults,
  tiltEnvFor,
  writeTiltEnv,
  type Backend,
  type DeploymentModel,
  type ImagePullPolicy,
  type IpFamily,
  type TiltEnv,
} from '../config/index.ts';
import {
  DEFAULT_CLUSTER_NAME,
  apiServerFromKubeconfig,
  createCluster,
  deleteCluster,
  internalKubeconfig,
  kindApiServer,
  kindContext,
  kindGetKubeconfigCommand,
  kubectlApplyCommand,
  listClusters,
  requireTools,
  runToolCommand,
  tiltDownCommand,
  tiltUpCommand,
} from '../cluster/index.ts';
import { manifestInputFromTiltEnv, renderDocuments } from '../manifests/index.ts';
import { parseOptions, type OptionSpecs } from './args.ts';
import { runOptions, type CliContext } from './context.ts';
import { offeredBackends, proxyStageFlags } from './offered.ts';

const tiltEnvOption = { 'tilt-env': { type: 'string', default: 'tilt.env', description: 'the tilt.env file' } } as const satisfies OptionSpecs;

export const tiltSetupOptions = {
  backend: {
    type: 'string',
    /** The backends the proxy offers (`kpng backends --json`), asked only when needed. */
    get choices(): readonly string[] {
      return backendNames();
    },
    description: 'the dataplane backend (make: b=)',
  },
  family: { type: 'string', choices: ipFamilies, description: 'the IP family of the kind cluster (make: i=)' },
  model: { type: 'string', choices: deploymentModels, default: 'single-process-per-node', description: 'the deployment model (make: m=)' },
  image: { type: 'string', default: tiltEnvDefaults.image, description: 'the proxy image the DaemonSet runs (Tilt builds it)' },
  'image-pull-policy': { type: 'string', choices: imagePullPolicies, default: tiltEnvDefaults.imagePullPolicy, description: 'the image pull policy' },
  'cluster-name': { type: 'string', default: DEFAULT_CLUSTER_NAME, description: 'the kind cluster' },
  'kubeconfig-configmap': { type: 'string', description: 'give the proxy a kubeconfig ConfigMap of this name instead of the in-cluster config' },
  recreate: { type: 'boolean', default: false, description: 'delete the kind cluster first if it exists' },
  ...tiltEnvOption,
} as const satisfies OptionSpecs;

function required<T extends string>(command: string, name: string, value: string | undefined, choices: readonly T[]): T {
  if (value === undefined) {
    throw new KpngError('KPNG_ERR_USAGE', `${command}: --${name} is required; accepted: ${choices.join(', ')}`, { exitCode: 2 });
  }
  return value as T;
}

async function inTempDir<T>(prefix: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** tilt-setup: the kind cluster, the proxy's namespace, ServiceAccount, RBAC and kubeconfig ConfigMap, and a validated tilt.env. */
export async function tiltSetup(args: readonly string[], ctx: CliContext): Promise<number> {
  const o = parseOptions('tilt-setup', args, tiltSetupOptions);
  const backend = required<Backend>('tilt-setup', 'backend', o.backend, backendNames());
  await offeredBackends([backend]);
  const family = required<IpFamily>('tilt-setup', 'family', o.family, ipFamilies);
  const name = o['cluster-name'] ?? DEFAULT_CLUSTER_NAME;
  const file = path.resolve(ctx.cwd, o['tilt-env'] ?? 'tilt.env');
  const env: TiltEnv = tiltEnvFor({
    backend,
    family,
    model: (o.model ?? 'single-process-per-node') as DeploymentModel,
    clusterName: name,
    ...(o.image ? { image: o.image } : {}),
    ...(o['image-pull-policy'] ? { imagePullPolicy: o['image-pull-policy'] as ImagePullPolicy } : {}),
    ...(o['kubeconfig-configmap'] ? { configMapName: o['kubeconfig-configmap'] } : {}),
  });
  const run = runOptions(ctx);
  await requireTools(['docker', 'kind', 'kubectl'], { env: ctx.env });

  let exists = (await listClusters(run)).includes(name);
  if (exists) {
    if (o.recreate) {
      await deleteCluster({ name }, run);
      exists = false;
    } else {
      const previous = await readTiltEnv(file).then(
        (parsed) => parsed.env,
        () => undefined,
      );
      if (previous?.clusterName !== name || previous.family !== family) {
        throw new KpngError(
          'KPNG_ERR_CLUSTER_EXISTS',
          `kind cluster ${name} exists, and ${previous ? `${file} says it is for ip family ${previous.family}` : `no valid ${file} says which ip family it has`}; ` +
            `to make it anew for ${family}: make tilt-setup b=${backend} i=${family} recreate=1 (or kind delete cluster --name ${name})`,
        );
      }
      ctx.log(`==> kind cluster ${name} exists for ip family ${family}: using it`);
    }
  }
  if (!exists) await createCluster({ name, family }, run);

  const apiServer = apiServerFromKubeconfig(await internalKubeconfig({ name }, run));
  if (apiServer !== kindApiServer(name)) {
    throw new KpngError('KPNG_ERR_KUBECONFIG', `the nodes of ${name} reach the API server at ${apiServer}, but the Tiltfile's manifests say ${kindApiServer(name)}; a kind cluster with one control-plane node is expected`);
  }
  const documents = renderDocuments(manifestInputFromTiltEnv(env, { apiServer })).filter((d) => d.kind !== 'DaemonSet');
  await inTempDir('kpng-tilt-setup-', async (dir) => {
    const manifests = path.join(dir, 'setup.yaml');
    await writeFile(manifests, documents.map((d) => d.yaml).join('---\n'));
    await runToolCommand(kubectlApplyCommand({ context: kindContext(name), file: manifests }), run);
  });
  await writeTiltEnv(file, env);
  await readTiltEnv(file, { strict: true });
  ctx.log(`==> wrote ${file} (${backend}, ${family}, ${env.model}); next: make tilt-up`);
  return 0;
}

export const tiltEnvOptions = tiltEnvOption;
export const tiltDownOptions = {
  ...tiltEnvOption,
  'keep-cluster': { type: 'boolean', default: false, description: 'keep the kind cluster (only remove what Tilt deployed)' },
} as const satisfies OptionSpecs;
export const tiltManifestsOptions = {
  ...tiltEnvOption,
  'api-server': { type: 'string', description: "the API server as nodes reach it (default: the kind cluster's control plane)" },
} as const satisfies OptionSpecs;

async function readValidTiltEnv(args: readonly string[], command: string, ctx: CliContext, extra: OptionSpecs = {}) {
  const o = parseOptions(command, args, { ...tiltEnvOption, ...extra });
  const file = path.resolve(ctx.cwd, String(o['tilt-env'] ?? 'tilt.env'));
  const parsed = await readTiltEnv(file, { strict: true }).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new KpngError('KPNG_ERR_NO_TILT_ENV', `${file} does not exist; make tilt-setup b=<backend> i=<family> [m=<model>] writes it (tilt.env.example shows its form)`);
  });
  // What the proxy would refuse is an error here, not a crash-looping DaemonSet.
  checkProxyFlags(parsed, await proxyStageFlags(parsed.env.backendArgs, parsed.env.serverArgs), file);
  return { env: parsed.env, file, options: o as Record<string, unknown> };
}

/** Run `command` with KUBECONFIG pointing at a kubeconfig of the kind cluster only, so Tilt cannot reach another cluster. */
async function withClusterKubeconfig<T>(ctx: CliContext, name: string, work: (env: NodeJS.ProcessEnv) => Promise<T>): Promise<T> {
  const run = runOptions(ctx);
  if (!(await listClusters(run)).includes(name)) {
    throw new KpngError('KPNG_ERR_NO_CLUSTER', `kind cluster ${name} does not exist; create it with make tilt-setup b=<backend> i=<family>`);
  }
  const kubeconfig = await runToolCommand(kindGetKubeconfigCommand({ name, internal: false }), run);
  return inTempDir('kpng-tilt-', async (dir) => {
    const file = path.join(dir, 'kubeconfig');
    await writeFile(file, kubeconfig, { mode: 0o600 });
    return work({ ...ctx.env, KUBECONFIG: file });
  });
}

export async function tiltUp(args: readonly string[], ctx: CliContext): Promise<number> {
  const { env } = await readValidTiltEnv(args, 'tilt-up', ctx);
  await requireTools(['docker', 'kind', 'tilt'], { env: ctx.env });
  return withClusterKubeconfig(ctx, env.clusterName, async (kubeEnv) => {
    await runToolCommand(tiltUpCommand({ file: path.join(ctx.repo, 'Tiltfile') }), { ...runOptions(ctx), env: kubeEnv });
    return 0;
  });
}

export async function tiltDown(args: readonly string[], ctx: CliContext): Promise<number> {
  const { env, options } = await readValidTiltEnv(args, 'tilt-down', ctx, tiltDownOptions);
  await requireTools(['docker', 'kind', 'tilt'], { env: ctx.env });
  await withClusterKubeconfig(ctx, env.clusterName, async (kubeEnv) => {
    await runToolCommand(tiltDownCommand({ file: path.join(ctx.repo, 'Tiltfile') }), { ...runOptions(ctx), env: kubeEnv });
  });
  if (!options['keep-cluster']) await deleteCluster({ name: env.clusterName }, runOptions(ctx));
  return 0;
}

/** For the Tiltfile: tilt.env, validated, as JSON (with the kind context the Tiltfile must deploy to). */
export async function tiltEnvCommand(args: readonly string[], ctx: CliContext): Promise<number> {
  const { env, file } = await readValidTiltEnv(args, 'tilt-env', ctx);
  ctx.out(`${JSON.stringify({ ...env, file, context: kindContext(env.clusterName), apiServer: kindApiServer(env.clusterName) }, null, 2)}\n`);
  return 0;
}

/** For the Tiltfile: the DaemonSet tilt.env describes (tilt-setup applied the rest). */
export async function tiltManifests(args: readonly string[], ctx: CliContext): Promise<number> {
  const { env, options } = await readValidTiltEnv(args, 'tilt-manifests', ctx, tiltManifestsOptions);
  const apiServer = typeof options['api-server'] === 'string' ? options['api-server'] : kindApiServer(env.clusterName);
  const daemonSet = renderDocuments(manifestInputFromTiltEnv(env, { apiServer })).filter((d) => d.kind === 'DaemonSet');
  ctx.out(daemonSet.map((d) => d.yaml).join('---\n'));
  return 0;
}
