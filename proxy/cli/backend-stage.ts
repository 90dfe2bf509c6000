// A backend becomes a pipeline stage by running under the runtime: its own flags plus the
// runtime's (/healthz, /metrics, sync periods, --nodeport-addresses), one of each name.
import type { BackendStage } from '../backends/backend.ts';
import type { IPFamily } from '../model/index.ts';
import { runtimeFlags, startRuntime, type Runtime } from '../runtime/index.ts';
import type { LocalSink } from '../sinks/sink.ts';
import { flagList, type FlagSpec, type FlagValues } from './flags.ts';
import type { LocalSinkStage, StageContext } from './stages.ts';

/** Flags of both lists, the first declaration of a name winning. */
export function mergeFlags(...lists: FlagSpec[][]): FlagSpec[] {
  const seen = new Map<string, FlagSpec>();
  for (const list of lists) for (const f of list) if (!seen.has(f.name)) seen.set(f.name, f);
  return [...seen.values()];
}

function familiesOf(v: FlagValues): IPFamily[] {
  const list = flagList(v, 'ip-families').map((f) => (f.toLowerCase() === 'ipv6' ? 'IPv6' : 'IPv4')) as IPFamily[];
  return list.length > 0 ? [...new Set(list)] : ['IPv4', 'IPv6'];
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
