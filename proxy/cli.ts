#!/usr/bin/env node
// The `kpng` command: KPNG's argument pipeline.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { plan, type Plan } from './cli/pipeline.ts';
import { UsageError } from './cli/parse.ts';
import { allStages } from './cli/registry.ts';
import type { StageContext } from './cli/stages.ts';
import { createLogger, type Logger } from './runtime/log.ts';
import type { ClusterSink, LocalSink } from './sinks/sink.ts';
import { stopOnSignals } from './stop-signals.ts';

export async function runPlan(p: Exclude<Plan, { kind: 'help' }>, ctx: StageContext, signal: AbortSignal): Promise<void> {
  if (p.kind === 'cleanup') {
    const stage = p.sink.stage;
    if (stage.role !== 'local-sink' || !stage.cleanup) throw new Error('unreachable');
    await stage.cleanup(p.sink.values, ctx);
    return;
  }
  const { source, sink, next } = p;
  if (source.stage.role === 'cluster-source' && sink.stage.role === 'cluster-sink') {
    const local = next && next.stage.role === 'local-sink' ? next.stage.create(next.values, ctx) : undefined;
    const clusterSink: ClusterSink = sink.stage.create(sink.values, ctx, local);
    await clusterSink.start();
    try {
      await source.stage.create(source.values, ctx).run(clusterSink, signal);
    } finally {
      await clusterSink.stop();
    }
  } else if (source.stage.role === 'local-source' && sink.stage.role === 'local-sink') {
    const localSink: LocalSink = sink.stage.create(sink.values, ctx);
    await localSink.start();
    try {
      await source.stage.create(source.values, ctx).run(localSink, signal);
    } finally {
      await localSink.stop();
    }
  }
}

export async function main(argv: string[], logger: Logger = createLogger()): Promise<number> {
  let p: Plan;
  try {
    p = plan(argv, allStages());
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`kpng: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (p.kind === 'help') {
    process.stdout.write(p.text);
    return 0;
  }
  const ctrl = new AbortController();
  const removeHandler = stopOnSignals(logger, () => ctrl.abort());
  try {
    await runPlan(p, { logger }, ctrl.signal);
    return 0;
  } catch (e) {
    logger.error((e as Error).message);
    return 1;
  } finally {
    removeHandler();
  }
}

function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`kpng: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
