// Leaving nothing behind: the markers that tie a run prefix to the process that made it,
// the exit hook that destroys live topologies, and the sweep of namespaces left by runs
// that died.
//
// A marker is /run/kpng-netns/<prefix>.json ({"pid","startTime",...}), written (exclusively)
// before the first namespace of a run and removed after the last one is gone; it also
// names the run's node cgroups and state folders once they exist (cgroups.ts). A sweep
// removes the namespaces, cgroups and state folders of a prefix only when its marker is
// missing or names a process that no longer runs (same pid and same start time, so a
// reused pid does not count). Namespaces whose names do not match PREFIX_PATTERN, and
// cgroups not named `kpng-<prefix>`, are never touched.

import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { onExit } from 'signal-exit';
import { execIn, execInSync, ipBatch, ipBatchSync } from './exec.ts';
import { PREFIX_PATTERN, prefixOf } from './names.ts';
import { processRunning } from './process.ts';
import { removeRunPlacement, runCgroups } from './cgroups.ts';
import { harnessErrorText } from '../../config/error-codes.ts';

/** Where markers live; overridable for tests with KPNG_NETNS_MARKER_DIR. */
export function markerDir(): string {
  return process.env.KPNG_NETNS_MARKER_DIR ?? '/run/kpng-netns';
}

export interface Marker {
  prefix: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat: tells a live creator from a later process with the same pid. */
  startTime: string | undefined;
  createdAt: string;
  /** The creator's command line, for people reading the marker. */
  command: string;
  /** The run's cgroup folder, when its nodes have cgroups. */
  cgroup?: string;
  /** The nodes' state folders handed out (`<root>/<prefix><node>`). */
  stateDirs?: string[];
}

function markerPath(prefix: string, dir = markerDir()): string {
  return join(dir, `${prefix.replace(/-$/, '')}.json`);
}

/** The start time of a process (field 22 of /proc/<pid>/stat), or undefined when it does not run. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain anything.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

/** Whether the process a marker names still runs. */
export function creatorAlive(marker: Marker): boolean {
  if (!processRunning(marker.pid)) return false;
  const startTime = processStartTime(marker.pid);
  return marker.startTime === undefined || startTime === undefined || startTime === marker.startTime;
}

/** Claims a prefix for this process by writing its marker; false when someone holds it already. */
export function claimPrefix(prefix: string, dir = markerDir()): boolean {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const marker: Marker = {
    prefix,
    pid: process.pid,
    startTime: processStartTime(process.pid),
    createdAt: new Date().toISOString(),
    command: process.argv.join(' ').slice(0, 500),
  };
  try {
    writeFileSync(markerPath(prefix, dir), `${JSON.stringify(marker)}\n`, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** Records in this run's marker the cgroup folder and state folders it made, for a sweep after it died. */
export function recordPlacement(prefix: string, placement: { cgroup?: string; stateDirs: readonly string[] }, dir = markerDir()): void {
  const file = markerPath(prefix, dir);
  const marker = JSON.parse(readFileSync(file, 'utf8')) as Marker;
  writeFileSync(file, `${JSON.stringify({ ...marker, ...placement })}\n`);
}

export function releasePrefix(prefix: string, dir = markerDir()): void {
  rmSync(markerPath(prefix, dir), { force: true });
}

/** Every marker in the directory, by prefix; a marker that cannot be read maps to undefined. */
export function readMarkers(dir = markerDir()): Map<string, Marker | undefined> {
  const markers = new Map<string, Marker | undefined>();
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return markers;
  }
  for (const file of files) {
    const prefix = `${file.replace(/\.json$/, '')}-`;
    if (!file.endsWith('.json') || prefixOf(prefix) !== prefix) continue;
    try {
      const marker = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Marker;
      markers.set(prefix, typeof marker.pid === 'number' ? marker : undefined);
    } catch {
      markers.set(prefix, undefined);
    }
  }
  return markers;
}

/** Parses `ip netns list` (`name (id: N)` per line). */
export function parseNetnsList(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
}

export interface SweepPlan {
  /** Prefixes whose creator is gone: their namespaces and marker go. */
  stale: { prefix: string; namespaces: string[] }[];
  /** Prefixes whose creator still runs: left alone. */
  live: string[];
}

/**
 * Decides what a sweep removes. Pure. Only namespaces matching PREFIX_PATTERN are
 * considered; a prefix is stale when its marker is missing or unreadable, or names a
 * process that is gone.
 */
export function planSweep(namespaces: readonly string[], markers: ReadonlyMap<string, Marker | undefined>, alive: (marker: Marker) => boolean): SweepPlan {
  const byPrefix = new Map<string, string[]>();
  for (const name of namespaces) {
    const prefix = prefixOf(name);
    if (prefix === undefined) continue;
    byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), name]);
  }
  for (const prefix of markers.keys()) if (!byPrefix.has(prefix)) byPrefix.set(prefix, []);
  const plan: SweepPlan = { stale: [], live: [] };
  for (const [prefix, names] of [...byPrefix].sort(([a], [b]) => a.localeCompare(b))) {
    const marker = markers.get(prefix);
    if (marker !== undefined && alive(marker)) plan.live.push(prefix);
    else plan.stale.push({ prefix, namespaces: names.sort() });
  }
  return plan;
}

export async function listNamespaces(): Promise<string[]> {
  return parseNetnsList(await execIn(undefined, 'ip', ['netns', 'list']));
}

export function listNamespacesSync(): string[] {
  return parseNetnsList(execInSync(undefined, 'ip', ['netns', 'list']));
}

function checkOurs(names: readonly string[]): void {
  for (const name of names) {
    if (!PREFIX_PATTERN.test(name)) throw new Error(harnessErrorText('KPNG_ERR_NETNS_NOT_OURS', `refusing to delete namespace ${name}`));
  }
}

function killAll(pidsText: string): void {
  for (const pid of pidsText.split(/\s+/).map(Number)) {
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}

/**
 * Deletes namespaces (ours only): kills every process still inside each one (so the
 * kernel namespace, and the veths in it, really go), then removes the names.
 */
export async function deleteNamespaces(names: readonly string[]): Promise<void> {
  checkOurs(names);
  if (names.length === 0) return;
  await Promise.all(
    names.map(async (name) => {
      try {
        killAll(await execIn(undefined, 'ip', ['netns', 'pids', name]));
      } catch {
        // Not there (any more).
      }
    }),
  );
  try {
    await ipBatch(undefined, names.map((name) => `netns del ${name}`), { force: true });
  } catch {
    // Some were gone already; what is left is checked below.
  }
  const left = (await listNamespaces()).filter((name) => names.includes(name));
  if (left.length > 0) throw new Error(harnessErrorText('KPNG_ERR_NETNS_CLEANUP', `could not delete namespaces ${left.join(', ')}`));
}

/** The synchronous form of deleteNamespaces, for exit hooks. */
export function deleteNamespacesSync(names: readonly string[]): void {
  checkOurs(names);
  if (names.length === 0) return;
  for (const name of names) {
    try {
      killAll(execInSync(undefined, 'ip', ['netns', 'pids', name]));
    } catch {
      // Not there (any more).
    }
  }
  try {
    ipBatchSync(undefined, names.map((name) => `netns del ${name}`), { force: true });
  } catch {
    // Some were gone already.
  }
}

/**
 * Removes namespaces (and markers) left behind by earlier runs whose process died.
 * Leaves every live run's namespaces alone. Returns the namespaces it removed.
 */
export async function sweepStale(options: { markerDir?: string } = {}): Promise<string[]> {
  const dir = options.markerDir ?? markerDir();
  // Cgroups and namespaces are listed before the markers are read: a run's marker is written before it makes either.
  const cgroups = runCgroups();
  const namespaces = await listNamespaces();
  const markers = readMarkers(dir);
  const plan = planSweep(namespaces, markers, creatorAlive);
  const live = new Set(plan.live);
  const removed: string[] = [];
  for (const { prefix, namespaces: names } of plan.stale) {
    await deleteNamespaces(names);
    const marker = markers.get(prefix);
    // Only folders named for this run: `<root>/<prefix><node>`.
    const stateDirs = (marker?.stateDirs ?? []).filter((d) => isAbsolute(d) && basename(d).startsWith(prefix));
    const left = removeRunPlacement(cgroups.get(prefix), stateDirs);
    if (left.length > 0) throw new Error(harnessErrorText('KPNG_ERR_NETNS_CGROUP', `a sweep could not remove ${left.join(', ')}`));
    releasePrefix(prefix, dir);
    removed.push(...names);
  }
  // A run cgroup with neither marker nor namespace (its run died between making it and writing anything else).
  for (const [prefix, cgroup] of cgroups) {
    if (live.has(prefix) || plan.stale.some((s) => s.prefix === prefix)) continue;
    removeRunPlacement(cgroup, []);
  }
  return removed;
}

/** What the exit hook destroys. */
export interface Destroyable {
  destroySync(): void;
}

const live = new Set<Destroyable>();
let hooked = false;

/**
 * Tracks a live topology so that it is destroyed when the process exits, also on
 * SIGINT/SIGTERM/SIGHUP (through signal-exit, which re-raises the signal afterwards
 * unless the program handles it itself).
 */
export function trackLive(item: Destroyable): void {
  live.add(item);
  if (hooked) return;
  hooked = true;
  onExit(() => {
    for (const item of [...live]) {
      try {
        item.destroySync();
      } catch (error) {
        process.stderr.write(`kpng netns: cleanup at exit failed: ${String(error)}\n`);
      }
    }
  });
}

export function untrackLive(item: Destroyable): void {
  live.delete(item);
}
