// to-json: the node-local state as stable, sorted JSON, one document per sync, to stdout
// or a file. How people inspect what the proxy believes.
import { writeFile, rename } from 'node:fs/promises';
import { sortedServicePorts, type LocalChanges, type LocalState } from '../model/index.ts';
import type { LocalSink } from './sink.ts';

/** Object keys sorted recursively; arrays keep their (already stable) order. */
function sortKeys(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(sortKeys);
  if (x && typeof x === 'object') {
    return Object.fromEntries(
      Object.keys(x)
        .sort()
        .map((k) => [k, sortKeys((x as Record<string, unknown>)[k])]),
    );
  }
  return x;
}

/** The dump document for a local state. */
export function localStateDocument(state: LocalState): unknown {
  return sortKeys({ node: state.node, servicePorts: sortedServicePorts(state) });
}

export function localStateJSON(state: LocalState): string {
  return `${JSON.stringify(localStateDocument(state), null, 2)}\n`;
}

export interface ToJSONOptions {
  /** A file path; undefined writes to stdout. A file holds the latest document only. */
  output?: string;
  write?: (text: string) => void;
}

export class ToJSON implements LocalSink {
  private pending: Promise<void> = Promise.resolve();
  private readonly opts: ToJSONOptions;

  constructor(opts: ToJSONOptions = {}) {
    this.opts = opts;
  }

  async start(): Promise<void> {}

  onLocal(state: LocalState, _changes: LocalChanges): void {
    const text = localStateJSON(state);
    const { output, write } = this.opts;
    this.pending = this.pending.then(async () => {
      if (write) write(text);
      else if (output) {
        const tmp = `${output}.tmp-${process.pid}`;
        await writeFile(tmp, text);
        await rename(tmp, output);
      } else {
        await new Promise<void>((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));
      }
    });
  }

  drain(): Promise<void> {
    return this.pending;
  }

  async stop(): Promise<void> {
    await this.pending;
  }
}
