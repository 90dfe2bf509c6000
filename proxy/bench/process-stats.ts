// What the benchmarks read of a running process from /proc (Linux): memory from
// /proc/<pid>/status, CPU time from /proc/<pid>/stat (at 100 ticks a second).
import { readFile } from 'node:fs/promises';

/** A memory figure of /proc/<pid>/status in bytes: VmRSS (now) or VmHWM (the peak). */
export async function memoryBytes(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1];
  if (kb === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(kb) * 1024;
}

/** CPU time used so far in ms: user + system, and with `children` also that of the children it waited for (its tools). */
export async function cpuMs(pid: number, { children = false } = {}): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // proc(5) fields 14-17 (utime, stime, cutime, cstime), counted from the state field (3).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = (children ? [11, 12, 13, 14] : [11, 12]).reduce((n, i) => n + Number(fields[i]), 0);
  return ticks * 10;
}

/** CPU time in ms (user + system) of the children this process has waited for so far: a kernel tool's, read before and after it ran. */
export async function waitedChildrenCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}
