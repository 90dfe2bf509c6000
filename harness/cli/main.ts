// kpng-harness: what the Makefile's harness targets run. One command per target, each
// failing with one clear message and its exit code (2: a tool is missing or the command
// line is wrong; 1: anything else).
import { requireTools, tools, type Tool } from '../cluster/index.ts';
import { isKpngError } from '../config/index.ts';
import { optionsHelp, usageError, type OptionSpecs } from './args.ts';
import { processContext, type CliContext } from './context.ts';
import { cluster, clusterOptions } from './cluster.ts';
import { controlPlane, controlPlaneOptions } from './control-plane.ts';
import { e2e, e2eOptions, e2eSelection, report, reportOptions, selectionOptions } from './e2e.ts';
import { image, imageOptions } from './image.ts';
import { lab, labOptions } from './lab.ts';
import {
  tiltDown,
  tiltDownOptions,
  tiltEnvCommand,
  tiltEnvOptions,
  tiltManifests,
  tiltManifestsOptions,
  tiltSetup,
  tiltSetupOptions,
  tiltUp,
} from './tilt.ts';

interface Command {
  summary: string;
  make?: string;
  options?: OptionSpecs;
  run: (args: readonly string[], ctx: CliContext) => Promise<number>;
}

const toolNames = new Set<string>(tools);

/** require-tools <tool>...: exit 2 with how to install what is missing (the Makefile checks before slow steps). */
async function requireToolsCommand(args: readonly string[], ctx: CliContext): Promise<number> {
  const unknown = args.filter((a) => !toolNames.has(a));
  if (args.length === 0 || unknown.length > 0) {
    throw usageError(`require-tools: ${args.length === 0 ? 'name the tools' : `unknown tool ${unknown.join(', ')}`}; accepted: ${tools.join(', ')}`);
  }
  await requireTools(args as Tool[], { env: ctx.env });
  return 0;
}

export const commands: Record<string, Command> = {
  image: { summary: 'build the proxy image from proxy/Dockerfile', make: 'make image', options: imageOptions, run: image },
  'tilt-setup': {
    summary: 'create the kind cluster, apply the namespace, ServiceAccount, RBAC (and kubeconfig ConfigMap), write tilt.env',
    make: 'make tilt-setup b=<backend> i=<family> [m=<model>]',
    options: tiltSetupOptions,
    run: tiltSetup,
  },
  'tilt-up': { summary: 'run the Tilt loop: rebuild and redeploy the proxy on every change', make: 'make tilt-up', options: tiltEnvOptions, run: tiltUp },
  'tilt-down': { summary: 'remove what Tilt deployed and delete the kind cluster', make: 'make tilt-down', options: tiltDownOptions, run: tiltDown },
  'tilt-env': { summary: 'print tilt.env, validated, as JSON (the Tiltfile reads it this way)', options: tiltEnvOptions, run: tiltEnvCommand },
  'tilt-manifests': { summary: 'print the DaemonSet tilt.env describes (the Tiltfile deploys it)', options: tiltManifestsOptions, run: tiltManifests },
  e2e: { summary: 'run the upstream e2e selection per backend × family on kind clusters, then the parity report', make: 'make e2e, make e2e-<family>-<backend>', options: e2eOptions, run: e2e },
  'e2e-selection': {
    summary: 'compose and verify each selection against the real spec list, print how many specs each runs (no Docker)',
    make: 'make e2e-selection',
    options: selectionOptions,
    run: e2eSelection,
  },
  report: { summary: 'the parity report (markdown and HTML) from a results folder of JUnit', make: 'make e2e-report', options: reportOptions, run: report },
  lab: {
    summary: 'the lab conformance suite (e2e/lab) in docker-free labs of network namespaces per backend × family, then the parity report (root)',
    make: 'make lab b=<backend> i=<family> [m=<model>], make lab-matrix',
    options: labOptions,
    run: lab,
  },
  'control-plane': {
    summary: 'control-plane up: start etcd and kube-apiserver on loopback and print `export KUBECONFIG=...`; control-plane down: stop them, remove their files',
    options: controlPlaneOptions,
    run: controlPlane,
  },
  cluster: {
    summary: 'cluster up: a cluster without Docker (--provider netns: kubelet + containerd per node namespace), waits for Ready nodes and prints `export KUBECONFIG=...`; cluster down: remove it and everything it made (root)',
    options: clusterOptions,
    run: cluster,
  },
  'require-tools': { summary: `check that tools are installed and docker's daemon answers (${tools.join(', ')}); exit 2 saying how to install what is missing`, run: requireToolsCommand },
};

export function usage(): string {
  const lines = ['kpng-harness: kind clusters, the Tilt loop and the upstream e2e suite for kpng', '', 'usage: kpng-harness <command> [options]', ''];
  for (const [name, command] of Object.entries(commands)) {
    lines.push(`  ${name}${command.make ? `   (${command.make})` : ''}`, `    ${command.summary}`);
    if (command.options) lines.push(optionsHelp(command.options));
    lines.push('');
  }
  return lines.join('\n');
}

export async function main(argv: readonly string[], ctx: CliContext = processContext()): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    (name === undefined ? ctx.log : ctx.out)(usage());
    return name === undefined ? 2 : 0;
  }
  try {
    const command = commands[name];
    if (command === undefined) throw usageError(`unknown command ${JSON.stringify(name)}; accepted: ${Object.keys(commands).join(', ')} (kpng-harness help)`);
    if (args.includes('--help') || args.includes('-h')) {
      ctx.out(`kpng-harness ${name}${command.make ? `   (${command.make})` : ''}\n  ${command.summary}\n${command.options ? `${optionsHelp(command.options)}\n` : ''}`);
      return 0;
    }
    return await command.run(args, ctx);
  } catch (error) {
    if (isKpngError(error)) {
      ctx.log(error.message);
      return error.exitCode;
    }
    ctx.log(`kpng-harness ${name}: ${(error as Error).stack ?? String(error)}`);
    return 1;
  }
}
