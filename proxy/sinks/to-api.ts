// to-api: serve node-local views over gRPC (localv1 Sets.Watch) to the agents of other
// processes or nodes (`kpng local`). One view is computed per watched node name and shared
// by all its watchers; it is updated incrementally and dropped when its last watcher leaves.
import { status, type ServerDuplexStream } from '@grpc/grpc-js';
import {
  ApiServer,
  changeOps,
  formatApiAddress,
  snapshotOps,
  type ApiAddress,
  type OpItem,
  type TLSFiles,
  type WatchReq__Output,
} from '../api/index.ts';
import {
  computeLocalState,
  localChanges,
  nextLocalState,
  nodeModelOptions,
  type ClusterDelta,
  type ClusterState,
  type LocalState,
} from '../model/index.ts';
import type { Logger } from '../runtime/log.ts';
import type { ClusterSink } from './sink.ts';
import { errorText } from '../errors.ts';

export interface ToApiOptions {
  listen: ApiAddress;
  tls?: TLSFiles;
  logger: Logger;
  /** Server keepalive (defaults 30s, 10s): how fast a silently vanished watcher is dropped. */
  keepaliveMs?: number;
  keepaliveTimeoutMs?: number;
}

type WatchCall = ServerDuplexStream<WatchReq__Output, OpItem>;

interface NodeView {
  nodeName: string;
  /** Undefined until the source has handed over a complete cluster view. */
  state: LocalState | undefined;
  watchers: Set<Watcher>;
}

interface Watcher {
  call: WatchCall;
  peer: string;
  view: NodeView | undefined;
  /** What this stream's client holds: the state of the last change set sent. */
  sent: LocalState | undefined;
  /** A WatchReq waits for an answer. */
  wanted: boolean;
  sending: boolean;
  closed: boolean;
}

/** Counts for introspection (tests, debugging). */
export interface ToApiStats {
  /** Watched node names with their number of watchers. */
  nodes: Map<string, number>;
  watchers: number;
  /** Watchers whose client has asked for the next change set (a WatchReq waits for an answer). */
  waiting: number;
  /** Change sets sent since start. */
  changeSets: number;
}

export class ToApi implements ClusterSink {
  private readonly opts: ToApiOptions;
  private readonly logger: Logger;
  private server: ApiServer | undefined;
  private cluster: ClusterState | undefined;
  private readonly views = new Map<string, NodeView>();
  private readonly watchers = new Set<Watcher>();
  private readonly sending = new Set<Promise<void>>();
  private changeSets = 0;
  /** Numbers the streams, so that the watchers of one unix socket can be told apart in the logs. */
  private streams = 0;

  constructor(opts: ToApiOptions) {
    this.opts = opts;
    this.logger = opts.logger;
  }

  /** Where the server listens (a TCP port 0 resolved); set once started. */
  get address(): ApiAddress {
    if (!this.server) throw new Error('to-api: not started');
    return this.server.address;
  }

  async start(): Promise<void> {
    this.server = await ApiServer.start({
      listen: this.opts.listen,
      ...(this.opts.tls && { tls: this.opts.tls }),
      handlers: { Watch: (call: WatchCall) => this.watch(call) },
      logger: this.logger,
      ...(this.opts.keepaliveMs !== undefined && { keepaliveMs: this.opts.keepaliveMs }),
      ...(this.opts.keepaliveTimeoutMs !== undefined && { keepaliveTimeoutMs: this.opts.keepaliveTimeoutMs }),
    });
  }

  onCluster(cluster: ClusterState, delta: ClusterDelta): void {
    this.cluster = cluster;
    for (const view of this.views.values()) {
      const prev = view.state;
      const next = nextLocalState(prev, cluster, delta, view.nodeName);
      if (prev) {
        const changes = localChanges(prev, next);
        if (changes.servicePorts.size === 0 && !changes.node) continue; // this node's view did not change
      }
      view.state = next;
      for (const w of view.watchers) this.pump(w);
    }
  }

  /** Resolves once every change set started so far has been handed to gRPC. */
  async drain(): Promise<void> {
    while (this.sending.size > 0) await Promise.all([...this.sending]);
  }

  async stop(): Promise<void> {
    for (const w of [...this.watchers]) {
      this.leave(w);
      w.call.end();
    }
    await this.server?.stop();
    this.server = undefined;
  }

  stats(): ToApiStats {
    return {
      nodes: new Map([...this.views].map(([name, v]) => [name, v.watchers.size])),
      watchers: this.watchers.size,
      waiting: [...this.watchers].filter((w) => w.wanted && !w.sending).length,
      changeSets: this.changeSets,
    };
  }

  private watch(call: WatchCall): void {
    const w: Watcher = { call, peer: this.peerOf(call), view: undefined, sent: undefined, wanted: false, sending: false, closed: false };
    this.watchers.add(w);
    call.on('data', (req: WatchReq__Output) => this.request(w, req));
    // The client closed its side: it wants nothing more.
    call.on('end', () => {
      this.leave(w);
      call.end();
    });
    call.on('cancelled', () => this.leave(w));
    call.on('error', () => this.leave(w));
    call.on('close', () => this.leave(w));
  }

  /**
   * Who is at the other end, for the logs: the client's address over TCP ("10.0.0.7:51234");
   * over a unix socket, where gRPC knows no peer ("unknown"), the socket path and the
   * stream's number. (The peer's pid and uid, SO_PEERCRED, are not reachable from Node.)
   */
  private peerOf(call: WatchCall): string {
    const n = ++this.streams;
    const peer = call.getPeer();
    if (peer && peer !== 'unknown' && !peer.startsWith('unix:')) return peer;
    return `${formatApiAddress(this.opts.listen)} stream #${n}`;
  }

  private request(w: Watcher, req: WatchReq__Output): void {
    if (w.closed) return;
    const name = req.nodeName;
    if (name === '') {
      this.reject(w, errorText('KPNG_ERR_API_PROTOCOL', 'node_name is required (accepted: WatchReq{node_name: "<the node\'s name>"})'));
      return;
    }
    if (!w.view) {
      w.view = this.join(name, w);
      this.logger.info('watcher joined', { node: name, peer: w.peer });
    } else if (name !== w.view.nodeName) {
      this.reject(w, errorText('KPNG_ERR_API_PROTOCOL', `this Watch is for node ${JSON.stringify(w.view.nodeName)}, got node_name ${JSON.stringify(name)} (accepted: the same node_name on every WatchReq of a stream; open another Watch for another node)`));
      return;
    }
    w.wanted = true;
    this.pump(w);
  }

  private reject(w: Watcher, details: string): void {
    this.logger.warn('watch rejected', { peer: w.peer, reason: details });
    this.leave(w);
    w.call.emit('error', { code: status.INVALID_ARGUMENT, details });
  }

  private join(nodeName: string, w: Watcher): NodeView {
    let view = this.views.get(nodeName);
    if (!view) {
      view = { nodeName, state: this.cluster ? computeLocalState(this.cluster, nodeModelOptions(this.cluster, nodeName)) : undefined, watchers: new Set() };
      this.views.set(nodeName, view);
    }
    view.watchers.add(w);
    return view;
  }

  private leave(w: Watcher): void {
    if (w.closed) return;
    w.closed = true;
    this.watchers.delete(w);
    const view = w.view;
    if (!view) return;
    view.watchers.delete(w);
    if (view.watchers.size === 0) this.views.delete(view.nodeName);
    this.logger.info('watcher left', { node: view.nodeName, peer: w.peer });
  }

  /** Answer a waiting WatchReq if the view differs from what the client holds. */
  private pump(w: Watcher): void {
    if (w.closed || !w.wanted || w.sending) return;
    const state = w.view?.state;
    if (!state || state === w.sent) return;
    const ops = w.sent ? changeOps(w.sent, state) : snapshotOps(state);
    w.sent = state;
    if (ops.length === 0) return;
    w.wanted = false;
    w.sending = true;
    this.changeSets++;
    const p: Promise<void> = this.send(w, ops).finally(() => {
      w.sending = false;
      this.sending.delete(p);
      this.pump(w);
    });
    this.sending.add(p);
  }

  private async send(w: Watcher, ops: OpItem[]): Promise<void> {
    for (const op of ops) {
      if (w.closed) return;
      if (!w.call.write(op)) await writable(w.call);
    }
    this.logger.debug('change set sent', { node: w.view?.nodeName, peer: w.peer, ops: ops.length });
  }
}

/** Resolves when the stream can take more, or is gone. */
function writable(call: WatchCall): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off('drain', done);
      call.off('close', done);
      call.off('cancelled', done);
      resolve();
    };
    call.on('drain', done);
    call.on('close', done);
    call.on('cancelled', done);
  });
}

export function describeListen(a: ApiAddress): string {
  return formatApiAddress(a);
}
