// A backend becomes a pipeline stage by running under the runtime: its own flags plus the
// runtime's (/healthz, /metrics, sync periods, --nodeport-addresses), one of each name.
import type { BackendStage } from '../backends/backend.ts';
import { parseFamilies } from '../backends/common/flags.ts';
import { ipFamilies, type IPFamily } from '../model/index.ts';
import { runtimeFlags, startRuntime, type Runtime } from '../runtime/index.ts';
import type { LocalSink } from '../sinks/sink.ts';
import type { FlagSpec, FlagValues } from './flags.ts';
import type { LocalSinkStage, StageContext } from './stages.ts';

/** Flags of both lists, the first declaration of a name winning. */
export function mergeFlags(...lists: FlagSpec[][]): FlagSpec[] {
  const seen = new Map<string, FlagSpec>();
  for (const list of lists) for (const f of list) if (!seen.has(f.name)) seen.set(f.name, f);
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

export function backendSinkStage(b: BackendStage & { cleanup?: (v: FlagValues, ctx: StageContext) => Promise<void> }): LocalSinkStage {
  return {
    role: 'local-sink',
    name: b.name,
    summary: b.summary,
    flags: mergeFlags(b.flags, runtimeFlags),
    create: (v, ctx) =>
      new RuntimeSink(() =>
        startRuntime({
          backend: b.create(v, { logger: ctx.logger.child(b.name) }),
          flags: v,
          logger: ctx.logger,
          ipFamilies: familiesOf(v),
          // A dry run prints rules and changes nothing on the host: no port bound, no conntrack flow deleted.
          dryRun: v['dry-run'] === true,
        }),
      ),
    cleanup: async (v, ctx) => {
      if (b.cleanup) await b.cleanup(v, { logger: ctx.logger.child(b.name) });
      else await b.create(v, { logger: ctx.logger.child(b.name) }).cleanup();
    },
  };
}
