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
    '',
    `sources:  ${names(stages, ['cluster-source', 'local-source'])}`,
    `sinks:    ${names(stages, ['cluster-sink'])}`,
    `backends: ${names(stages, ['local-sink'])}`,
    '',
    'Every stage takes --help.',
    '',
  ].join('\n');
}

export function plan(argv: string[], stages: Stage[]): Plan {
  const byName = new Map(stages.map((s) => [s.name, s]));
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') return { kind: 'help', text: usage(stages) };
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
    if (help) return { kind: 'help', text: formatHelp(stage.name, stage.summary, stage.flags) };
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
