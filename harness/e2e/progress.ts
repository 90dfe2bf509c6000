// Per-spec progress from ginkgo's verbose output (-v): each spec's report names it (the
// line before its source location) and gives its result and time (a "•" line, before or
// after the name). The whole output goes to the log file; one line per finished spec goes
// to the log, e.g. "[ 12/105] passed   15.2 s  [sig-network] Services should ...".
import { createWriteStream } from 'node:fs';
import { execa } from 'execa';
import type { ProgramRunner } from './run.ts';

export interface SpecResult {
  name: string;
  result: string;
  seconds: number;
}

const SEPARATOR = /^-{20,}$/;
const LOCATION = /^\S+\.go:\d+$/;
const RESULT = /^[•S]\s*(?:\[([A-Z]+)\]\s*)?\[(\d+(?:\.\d+)?) seconds\]$/;
const SUITE_NODE = /^\[(?:Synchronized)?(?:Report)?(?:Before|After)Suite\]/;

/** Reads ginkgo -v output line by line and calls `onSpec` for each spec that ended. */
export class GinkgoProgress {
  private previous = '';
  private name: string | undefined;
  private result: { result: string; seconds: number } | undefined;

  private readonly onSpec: (spec: SpecResult) => void;

  constructor(onSpec: (spec: SpecResult) => void) {
    this.onSpec = onSpec;
  }

  line(raw: string): void {
    const line = raw.trimEnd();
    if (SEPARATOR.test(line)) {
      this.name = undefined;
      this.result = undefined;
    } else if (LOCATION.test(line.trim()) && this.previous !== '' && !SUITE_NODE.test(this.previous)) {
      // Without ginkgo's label list ("[sig-network, Conformance]") at the end.
      this.name = this.previous.replace(/\s+\[sig-[^\]]*\]$/, '');
    } else {
      const m = RESULT.exec(line.trim());
      if (m) this.result = { result: (m[1] ?? 'PASSED').toLowerCase(), seconds: Number(m[2]) };
    }
    if (line.trim() !== '') this.previous = line.trim();
    if (this.name !== undefined && this.result !== undefined) {
      this.onSpec({ name: this.name, ...this.result });
      this.name = undefined;
      this.result = undefined;
    }
  }
}

/** A ProgramRunner that keeps the whole output in the log file and logs one line per finished spec. */
export function progressRunner(o: { total: number; log: (line: string) => void }): ProgramRunner {
  return async (command, logFile) => {
    const out = createWriteStream(logFile, { flags: 'a' });
    const counts = new Map<string, number>();
    let done = 0;
    const width = String(o.total).length;
    const progress = new GinkgoProgress((spec) => {
      done += 1;
      counts.set(spec.result, (counts.get(spec.result) ?? 0) + 1);
      o.log(`  [${String(done).padStart(width)}/${o.total}] ${spec.result.padEnd(7)} ${spec.seconds.toFixed(1).padStart(6)} s  ${spec.name}`);
    });
    const child = execa(command.file, command.args, { env: command.env, reject: false, stdin: 'ignore', all: true, buffer: false });
    let rest = '';
    child.all?.on('data', (chunk: Buffer) => {
      out.write(chunk);
      const text = rest + chunk.toString('utf8');
      const lines = text.split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) progress.line(l);
    });
    const result = await child;
    if (rest) progress.line(rest);
    await new Promise<void>((resolve) => out.end(resolve));
    o.log(`  ${done} specs ended: ${[...counts].map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}`);
    return result.exitCode ?? -1;
  };
}
