// The local source: one node's view streamed by another kpng's to-api (localv1
// Sets.Watch), handed to a local sink (a backend, or to-json). It reconnects with backoff
// whenever the stream ends, and each new stream starts with a full snapshot; the sink
// sees a new state only when the view really changed, so a reconnect that finds the
// same view costs the backend nothing.
import { status, type ClientDuplexStream } from '@grpc/grpc-js';
import {
  ApiError,
  createSetsClient,
  formatApiAddress,
  ViewAssembler,
  type ApiAddress,
  type OpItem__Output,
  type SetsClient,
  type SetsClientOptions,
  type WatchReq,
} from '../../api/index.ts';
import { localChanges, type LocalState } from '../../model/index.ts';
import type { Logger } from '../../runtime/log.ts';
import type { LocalSink } from '../../sinks/sink.ts';
import { Backoff, sleep } from '../backoff.ts';
import type { LocalSource } from '../source.ts';

export interface LocalApiSourceOptions {
  api: ApiAddress;
  nodeName: string;
  client?: SetsClientOptions;
  logger: Logger;
  /** Delay between reconnects (default 250 ms doubling to 10 s, reset by a stream that synced). */
  backoff?: Backoff;
}

/** How one stream ended. */
interface StreamEnd {
  /** At least one change set was complete on it. */
  synced: boolean;
  error?: Error;
}

export class LocalApiSource implements LocalSource {
  /** Streams opened so far (for tests and debugging). */
  streams = 0;
  private readonly o: LocalApiSourceOptions;
  private readonly view = new ViewAssembler();
  private handed: LocalState | undefined;

  constructor(o: LocalApiSourceOptions) {
    if (o.nodeName === '') throw new ApiError('KPNG_ERR_API_PROTOCOL', 'local needs a node name (accepted: --node-name=<the node\'s name>, or $NODE_NAME)');
    this.o = o;
  }

  async run(sink: LocalSink, signal: AbortSignal): Promise<void> {
    const { logger } = this.o;
    const client = await createSetsClient(this.o.api, this.o.client ?? {});
    const backoff = this.o.backoff ?? new Backoff({ initialMs: 250, maxMs: 10_000, jitter: 0.3 });
    const where = formatApiAddress(this.o.api);
    try {
      while (!signal.aborted) {
        const end = await this.stream(client, sink, signal);
        if (signal.aborted) break;
        if (end.synced) backoff.reset();
        const inMs = backoff.next();
        const why = end.error?.message ?? 'the server ended the stream';
        logger.warn('node-local API stream ended; reconnecting', { api: where, inMs, err: why });
        await sleep(inMs, signal);
      }
    } finally {
      client.close();
    }
  }

  private stream(client: SetsClient, sink: LocalSink, signal: AbortSignal): Promise<StreamEnd> {
    const { nodeName, logger } = this.o;
    return new Promise((resolve) => {
      this.streams++;
      this.view.newStream();
      const call: ClientDuplexStream<WatchReq, OpItem__Output> = client.Watch();
      let synced = false;
      let done = false;
      const finish = (error?: Error) => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', abort);
        resolve(error ? { synced, error } : { synced });
      };
      const abort = () => call.cancel();
      signal.addEventListener('abort', abort, { once: true });
      call.on('data', (op: OpItem__Output) => {
        if (done) return;
        let state: LocalState | undefined;
        try {
          state = this.view.apply(op);
        } catch (e) {
          // A change set we cannot apply: drop the stream; the next one starts from a snapshot.
          logger.error((e as Error).message);
          finish(e as Error);
          call.cancel();
          return;
        }
        if (!state) return;
        if (!synced) logger.info('node-local view received', { api: formatApiAddress(this.o.api), node: nodeName, servicePorts: state.servicePorts.size });
        synced = true;
        this.hand(sink, state);
        call.write({ nodeName });
      });
      call.on('error', (e: Error & { code?: number }) => finish(signal.aborted || e.code === status.CANCELLED ? undefined : e));
      call.on('end', () => finish());
      call.write({ nodeName });
    });
  }

  /** Hand the state down unless it equals what the sink already has (the first always goes). */
  private hand(sink: LocalSink, state: LocalState): void {
    const prev = this.handed;
    const changes = localChanges(prev, state);
    this.handed = state;
    if (prev && changes.servicePorts.size === 0 && !changes.node) return;
    sink.onLocal(state, changes);
  }
}
