// Assembling a pipeline from argv: which stages, in which order, with which flags.
import { formatHelp, parseFlags, splitStages, UnexpectedArgument, UsageError } from './parse.ts';
import type { FlagValues } from './flags.ts';
import type { Stage } from './stages.ts';

export interface PlannedStage {
  stage: Stage;
  values: FlagValues;
}

export type Plan =
  | { kind: 'help'; text: string }
  | { kind: 'cleanup'; sink: PlannedStage }
  | { kind: 'run'; source: PlannedStage; sink: PlannedStage; next?: PlannedStage };

const roleWords: Record<Stage['role'], string> = {
  'cluster-source': 'source',
  'local-source': 'source',
  'cluster-sink': 'sink',
  'local-sink': 'backend',
};

function names(stages: Stage[], roles: Array<Stage['role']>): string {
  return stages.filter((s) => roles.includes(s.role)).map((s) => s.name).join(', ');
}

export function usage(stages: Stage[]): string {
  return [
    'kpng: a Kubernetes service proxy with swappable backends',
    '',
    'usage: kpng <source> [flags] <sink> [flags] [<backend> [flags]]',
    '   e.g. kpng file --input=state.yaml to-local --node-name=n1 to-json',
    '        kpng <backend> --cleanup',
    '        kpng backends [--json]       the backends, or their descriptors as JSON (what the harness reads)',
    '        kpng backends --names        their names as one JSON list (the CI matrix reads it)',
    '        kpng backends --packages     the Debian packages the backends drive (the image installs these)',
    '        kpng <backend> --describe    one backend\'s descriptor as JSON',
    '',
    `sources:  ${names(stages, ['cluster-source', 'local-source'])}`,
    `sinks:    ${names(stages, ['cluster-sink'])}`,
    `backends: ${names(stages, ['local-sink'])}`,
    '',
    'Every stage takes --help.',
    '',
  ].join('\n');
}

/** The stages that describe themselves (the backends), as `kpng backends` lists them. */
function describedBackends(stages: Stage[]): Array<{ stage: Stage; data: unknown }> {
  return stages.flatMap((stage) => (stage.role === 'local-sink' && stage.describe ? [{ stage, data: stage.describe() }] : []));
}

/**
 * `kpng backends [--json | --packages]`: one line per backend (stage, /proxyMode, proof,
 * summary), a JSON array of their descriptors, or the union of their pod.packages (in
 * registry order, space-separated: what the image's build writes and its apt-get installs).
 */
export function backendsText(stages: Stage[], flags: readonly string[]): string {
  const unknown = flags.find((f) => f !== '--json' && f !== '--packages' && f !== '--names');
  if (unknown !== undefined || flags.length > 1) throw new UsageError('KPNG_ERR_UNKNOWN_FLAG', `backends does not take ${unknown ?? flags.join(' ')} (accepted: --json, --names or --packages)`);
  const list = describedBackends(stages);
  if (flags.includes('--json')) return `${JSON.stringify(list.map((b) => b.data), null, 2)}\n`;
  // The names alone, as one JSON line (a CI matrix reads it).
  if (flags.includes('--names')) return `${JSON.stringify(list.map((b) => (b.data as { name: string }).name))}\n`;
  if (flags.includes('--packages')) return `${[...new Set(list.flatMap((b) => (b.data as { pod?: { packages?: readonly string[] } }).pod?.packages ?? []))].join(' ')}\n`;
  return list
    .map(({ stage, data }) => {
      const d = data as { proxyMode?: string; proof?: string };
      return `${stage.name.padEnd(16)} /proxyMode ${String(d.proxyMode).padEnd(12)} ${String(d.proof).padEnd(20)} ${stage.summary}\n`;
    })
    .join('');
}

export function plan(argv: string[], stages: Stage[]): Plan {
  const byName = new Map(stages.map((s) => [s.name, s]));
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') return { kind: 'help', text: usage(stages) };
  if (argv[0] === 'backends') return { kind: 'help', text: backendsText(stages, argv.slice(1)) };
  let parts: Array<{ name: string; tokens: string[] }>;
  try {
    parts = splitStages(argv, (n) => byName.has(n));
  } catch (e) {
    if (e instanceof UsageError) {
      throw new UsageError(e.code, `${e.message.replace(/^KPNG_ERR_\w+: /, '')} (accepted first: ${names(stages, ['cluster-source', 'local-source', 'local-sink'])})`);
    }
    throw e;
  }
  if (parts[0]!.name === '') {
    throw new UsageError('KPNG_ERR_UNKNOWN_STAGE', `expected a source first, got ${parts[0]!.tokens[0]} (accepted: ${names(stages, ['cluster-source', 'local-source'])}, --help)`);
  }
  const planned: PlannedStage[] = [];
  for (const part of parts) {
    const stage = byName.get(part.name)!;
    if (stage.role === 'local-sink' && stage.describe && part.tokens.includes('--describe')) {
      return { kind: 'help', text: `${JSON.stringify(stage.describe(), null, 2)}\n` };
    }
    let parsed: ReturnType<typeof parseFlags>;
    try {
      parsed = parseFlags(part.name, stage.flags, part.tokens);
    } catch (e) {
      if (!(e instanceof UnexpectedArgument)) throw e;
      const roles: Array<Stage['role']> =
        stage.role === 'cluster-source' ? ['cluster-sink'] : stage.role === 'local-source' ? ['local-sink'] : stage.role === 'cluster-sink' && stage.takesLocalSink ? ['local-sink'] : [];
      const accepted = roles.length > 0 ? names(stages, roles) : `nothing may follow ${stage.name}`;
      throw new UsageError('KPNG_ERR_UNKNOWN_STAGE', `unknown stage ${JSON.stringify(e.arg)} after ${e.after} (accepted: ${accepted}; flags look like --name=value)`);
    }
    const { values, help } = parsed;
    if (help) {
      const describe = stage.role === 'local-sink' && stage.describe ? '  --describe\n      print this backend\'s descriptor (name, /proxyMode, flags, pod needs, subjects) as JSON and exit\n' : '';
      return { kind: 'help', text: formatHelp(stage.name, stage.summary, stage.flags) + describe };
    }
    planned.push({ stage, values });
  }

  const first = planned[0]!;
  if (first.stage.role === 'local-sink') {
    if (first.values.cleanup === true && planned.length === 1 && first.stage.cleanup) return { kind: 'cleanup', sink: first };
    throw new UsageError('KPNG_ERR_PIPELINE', `${first.stage.name} is a backend; a pipeline starts with a source (accepted: ${names(stages, ['cluster-source', 'local-source'])}), or run "${first.stage.name} --cleanup" alone`);
  }
  if (first.stage.role === 'cluster-sink') {
    throw new UsageError('KPNG_ERR_PIPELINE', `${first.stage.name} is a sink; a pipeline starts with a source (accepted: ${names(stages, ['cluster-source', 'local-source'])})`);
  }
  const wantSink: Array<Stage['role']> = first.stage.role === 'cluster-source' ? ['cluster-sink'] : ['local-sink'];
  const sink = planned[1];
  if (!sink) throw new UsageError('KPNG_ERR_PIPELINE', `${first.stage.name} needs a ${roleWords[wantSink[0]!]} after it (accepted: ${names(stages, wantSink)})`);
  if (!wantSink.includes(sink.stage.role)) {
    throw new UsageError('KPNG_ERR_PIPELINE', `${sink.stage.name} cannot follow ${first.stage.name} (accepted: ${names(stages, wantSink)})`);
  }
  if (sink.stage.role === 'cluster-sink' && sink.stage.takesLocalSink) {
    const next = planned[2];
    if (!next || next.stage.role !== 'local-sink') {
      throw new UsageError('KPNG_ERR_PIPELINE', `${sink.stage.name} needs a backend after it (accepted: ${names(stages, ['local-sink'])})`);
    }
    if (planned.length > 3) throw new UsageError('KPNG_ERR_PIPELINE', `nothing may follow ${next.stage.name}, got ${planned[3]!.stage.name}`);
    return { kind: 'run', source: first, sink, next };
  }
  if (planned.length > 2) throw new UsageError('KPNG_ERR_PIPELINE', `nothing may follow ${sink.stage.name}, got ${planned[2]!.stage.name}`);
  return { kind: 'run', source: first, sink };
}
