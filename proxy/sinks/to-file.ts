// to-file: the cluster state as a YAML snapshot (a kind: List) that the file source
// reads back. Written atomically, so a reader never sees half a file.
import { rename, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import type { ClusterDelta, ClusterState } from '../model/index.ts';
import type { ClusterSink } from './sink.ts';

export function clusterSnapshotYAML(cluster: ClusterState): string {
  return stringify({ apiVersion: 'v1', kind: 'List', items: cluster.objects() }, { aliasDuplicateObjects: false });
}

export class ToFile implements ClusterSink {
  private pending: Promise<void> = Promise.resolve();
  private readonly output: string;

  constructor(output: string) {
    this.output = output;
  }

  async start(): Promise<void> {}

  onCluster(cluster: ClusterState, _delta: ClusterDelta): void {
    const text = clusterSnapshotYAML(cluster);
    this.pending = this.pending.then(async () => {
      const tmp = `${this.output}.tmp-${process.pid}`;
      await writeFile(tmp, text);
      await rename(tmp, this.output);
    });
  }

  drain(): Promise<void> {
    return this.pending;
  }

  async stop(): Promise<void> {
    await this.pending;
  }
}
