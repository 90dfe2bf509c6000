// A backend becomes a pipeline stage (`to-<name>`) by running under the runtime: its own
// flags plus the runtime's (/healthz, /metrics, sync periods, --nodeport-addresses), one
// of each name.
import { describeBackend, type BackendDescriptor, type DescribedBackend } from '../backends/backend.ts';
import { parseFamilies } from '../backends/common/flags.ts';
import { ipFamilies, type IPFamily } from '../model/index.ts';
import { runtimeFlags, startRuntime, type Runtime } from '../runtime/index.ts';
import type { LocalSink } from '../sinks/sink.ts';
import type { FlagSpec, FlagValues } from './flags.ts';
import type { LocalSinkStage, StageContext } from './stages.ts';

/**
 * Flags of every list, one of each name, the first one listed winning (a backend may give a
 * shared flag its own description with described()). Two lists may name the same flag only
 * by referring to one declaration: a name declared twice, with another type, default or
 * check, is a programming error and throws.
 */
export function mergeFlags(...lists: ReadonlyArray<readonly FlagSpec[]>): FlagSpec[] {
  const seen = new Map<string, FlagSpec>();
  for (const list of lists) {
    for (const f of list) {
      const first = seen.get(f.name);
      if (!first) seen.set(f.name, f);
      else if (first.type !== f.type || first.check !== f.check || JSON.stringify(first.default) !== JSON.stringify(f.default) || first.choices !== f.choices) {
        throw new Error(`--${f.name} is declared twice; declare a shared flag once and list it by reference`);
      }
    }
  }
  return [...seen.values()];
}

/** --ip-families (checked by the backend's flag), both families when empty. */
function familiesOf(v: FlagValues): IPFamily[] {
  return parseFamilies(v, (m) => new Error(m)) ?? [...ipFamilies];
}

/** A LocalSink that starts the runtime (binding its servers) when the pipeline starts. */
class RuntimeSink implements LocalSink {
  private runtime: Runtime | undefined;
  private readonly make: () => Promise<Runtime>;

  constructor(make: () => Promise<Runtime>) {
    this.make = make;
  }

  async start(): Promise<void> {
    this.runtime = await this.make();
    await this.runtime.sink.start();
  }

  onLocal(...args: Parameters<LocalSink['onLocal']>): void {
    this.runtime?.sink.onLocal(...args);
  }

  drain(): Promise<void> {
    return this.runtime ? this.runtime.sink.drain() : Promise.resolve();
  }

  async stop(): Promise<void> {
    await this.runtime?.stop();
  }
}

/** The `to-<name>` stage's flags: the backend's, then the runtime's. */
export function stageFlags(d: BackendDescriptor): FlagSpec[] {
  return mergeFlags(d.flags, runtimeFlags);
}

/** `kpng to-<name> --describe`: the descriptor as data, with the stage's flags (the runtime's included). */
export function stageDescription(d: BackendDescriptor): DescribedBackend {
  return describeBackend(d, stageFlags(d));
}

export function backendSinkStage(d: BackendDescriptor): LocalSinkStage {
  const ctxOf = (ctx: StageContext) => ({ logger: ctx.logger.child(d.name) });
  return {
    role: 'local-sink',
    name: `to-${d.name}`,
    summary: d.summary,
    flags: stageFlags(d),
    describe: () => stageDescription(d),
    create: (v, ctx) =>
      new RuntimeSink(() =>
        startRuntime({
          backend: d.create(v, ctxOf(ctx)),
          descriptor: d,
          flags: v,
          logger: ctx.logger,
          ipFamilies: familiesOf(v),
          // A dry run prints rules and changes nothing on the host: no port bound, no conntrack flow deleted.
          dryRun: v['dry-run'] === true,
        }),
      ),
    cleanup: async (v, ctx) => {
      if (d.cleanup) await d.cleanup(v, ctxOf(ctx));
      else await d.create(v, ctxOf(ctx)).cleanup();
    },
  };
}
