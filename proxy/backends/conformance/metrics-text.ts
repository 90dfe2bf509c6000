// Reading a /metrics page (Prometheus text format) as the proxy under test serves it.
// Pure; enough of the format for kube-proxy's metric names: samples with labels and an
// optional timestamp, no exemplars.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
/** Spelt in any case ("Nan" is prom-client's NaN). */
const specialValues: Record<string, number> = { '+inf': Infinity, inf: Infinity, '-inf': -Infinity, nan: NaN };

function sampleValue(text: string): number | undefined {
  const special = specialValues[text.toLowerCase()];
  if (special !== undefined) return special;
  const n = Number(text);
  return Number.isNaN(n) ? undefined : n;
}
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export class MetricsPage {
  readonly samples: readonly Sample[];

  constructor(text: string) {
    const samples: Sample[] = [];
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const m = sampleLine.exec(line);
      const value = m ? sampleValue(m[3]!) : undefined;
      if (!m || value === undefined) throw new Error(`not a metrics sample line: ${JSON.stringify(line)}`);
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? '').matchAll(labelPair)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      samples.push({ name: m[1]!, labels, value });
    }
    this.samples = samples;
  }

  /** The samples of a metric whose labels include `labels`. */
  find(name: string, labels: Record<string, string> = {}): Sample[] {
    return this.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }

  /** The sum of the matching samples; undefined when there is none. */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    const found = this.find(name, labels);
    return found.length === 0 ? undefined : found.reduce((sum, s) => sum + s.value, 0);
  }

  /** The largest matching sample (e.g. a timestamp over the ip_family label); undefined when there is none. */
  max(name: string, labels: Record<string, string> = {}): number | undefined {
    const found = this.find(name, labels);
    return found.length === 0 ? undefined : Math.max(...found.map((s) => s.value));
  }
}
