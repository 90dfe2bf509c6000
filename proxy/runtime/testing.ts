// Test helpers for the runtime: a scriptable fake Backend, small node-local states, HTTP
// GETs, free ports, and ES module scripts run in a fresh node process.
import { execa, type Result } from 'execa';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import type { Backend, SyncStats } from '../backends/backend.ts';
import { localChanges, type LocalChanges, type LocalState, type ViewChanges } from '../model/index.ts';
import { localStateOf, node, service, slice, type EndpointOpts, type ServiceOpts } from '../model/testing.ts';

export interface SyncCall {
  /** The state of the view the backend was handed. */
  state: LocalState;
  changes: ViewChanges | undefined;
}

/** What the next sync does: succeed (with stats), fail, or wait on a promise. */
export type Outcome = SyncStats | Error | (() => Promise<SyncStats>);

export interface FakeBackend extends Backend {
  calls: SyncCall[];
  /** Outcomes for the coming syncs, in order; when empty, syncs succeed at once. */
  outcomes: Outcome[];
  /** The most syncs ever running at the same time. */
  maxConcurrent: number;
  setupCalls: number;
  cleanupCalls: number;
  tamperedAnswers: boolean[];
  tamperedCalls: number;
}

export function fakeBackend(name = 'iptables', opts: { tampered?: boolean } = {}): FakeBackend {
  let running = 0;
  const b: FakeBackend = {
    name,
    calls: [],
    outcomes: [],
    maxConcurrent: 0,
    setupCalls: 0,
    cleanupCalls: 0,
    tamperedAnswers: [],
    tamperedCalls: 0,
    async setup() {
      b.setupCalls++;
    },
    async sync(view, changes) {
      b.calls.push({ state: view.state, changes });
      running++;
      b.maxConcurrent = Math.max(b.maxConcurrent, running);
      try {
        const o = b.outcomes.shift();
        if (o === undefined) return { full: changes === undefined };
        if (o instanceof Error) throw o;
        if (typeof o === 'function') return await o();
        return o;
      } finally {
        running--;
      }
    },
    async cleanup() {
      b.cleanupCalls++;
    },
  };
  if (opts.tampered) {
    b.tampered = async () => {
      b.tamperedCalls++;
      return b.tamperedAnswers.shift() ?? false;
    };
  }
  return b;
}

/** A promise and its resolvers. */
export function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export interface SvcSpec {
  name: string;
  endpoints: Array<string | EndpointOpts>;
  opts?: ServiceOpts;
  slicePorts?: Array<{ name?: string; port: number; protocol?: string }>;
}

/** A node-local state for node-a holding these Services and their endpoints. */
export function stateOf(services: SvcSpec[], nodeOpts: Parameters<typeof node>[1] = {}): LocalState {
  const objects: unknown[] = [node('node-a', nodeOpts)];
  for (const s of services) {
    objects.push(service(s.name, s.opts));
    if (s.endpoints.length > 0) objects.push(slice(`${s.name}-1`, s.name, s.endpoints, s.slicePorts ? { ports: s.slicePorts } : {}));
  }
  return localStateOf(objects);
}

/** A sequence of states and the changes from each to the next, as to-local hands them. */
export function handOff(states: LocalState[]): Array<{ state: LocalState; changes: LocalChanges }> {
  return states.map((state, i) => ({ state, changes: localChanges(states[i - 1], state) }));
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function get(url: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Runs `code` as an ES module in a fresh node process (this one's binary, in this one's
 * working directory, where the tests run: the repository root, so that the script resolves
 * the project's packages); never rejects: the result carries the exit code or signal,
 * stdout and stderr.
 */
export function runModuleScript(code: string): Promise<Result<{ reject: false }>> {
  return execa(process.execPath, ['--input-type=module', '-e', code], { reject: false });
}
