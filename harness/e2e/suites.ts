// e2e/skips.yaml: which upstream specs each backend × IP family runs, as data. Focus
// entries say what to run, skip entries what to leave out; every entry carries the spec
// text (or a regular expression), the reason, and a link, and may apply to some backends
// or families only. Read with line numbers, so every later problem can name its entry.
// Backends are named as the proxy names them (`kpng backends`); an entry may name one the
// proxy does not offer yet (it applies once that backend is registered); one naming a
// backend by its /proxyMode word (nftables for nft) is refused. The lab (harness/lab) applies
// the skip entries to its own specs, named by the same texts, except those marked lab: false.
import { readFile } from 'node:fs/promises';
import { LineCounter, isSeq, parseDocument } from 'yaml';
import { z } from 'zod';
import { KpngError, ipFamilies, proxyBackends, type Backend, type IpFamily } from '../config/index.ts';

const proxyModes = () => proxyBackends().map((b) => ({ name: b.name, proxyMode: b.proxyMode }));

export interface SuiteEntry {
  kind: 'focus' | 'skip';
  /** "e2e/skips.yaml:42", to name the entry in messages. */
  where: string;
  /** As written: the literal spec text, or the regular expression. */
  written: { text: string } | { regex: string };
  /** The regular expression (RE2 syntax, as ginkgo reads it): a text entry escaped. */
  pattern: string;
  reason: string;
  link?: string;
  /** The backends the entry applies to, as the file names them; absent: every backend (also one registered later). */
  backends?: readonly Backend[];
  /** The families it applies to (all when the file names none). */
  families: readonly IpFamily[];
  /** false: only the upstream runs on kind apply it, not the lab (it is about what only kind lacks); absent: both. */
  lab?: false;
}

/** Where an entry is applied: the upstream e2e runs on kind, or the lab (harness/lab, the specs in e2e/lab). */
export type SuiteRun = 'e2e' | 'lab';

export interface Suites {
  file: string;
  focus: SuiteEntry[];
  skip: SuiteEntry[];
}

/** Go's regexp.QuoteMeta: the text as a regular expression that matches exactly it. */
export function quoteMeta(text: string): string {
  return text.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/** A backend's name as the proxy gives it: its folder, proxy/backends/<name>. */
const backendName = /^[a-z][a-z0-9]*$/;

const entrySchema = (kind: 'focus' | 'skip') =>
  z
    .strictObject({
      text: z.string().min(1, { error: 'is empty' }).optional(),
      regex: z.string().min(1, { error: 'is empty' }).optional(),
      reason: z.string().trim().min(1, { error: 'is empty: say why' }),
      link:
        kind === 'skip'
          ? z.url({
              protocol: /^https$/,
              error: (issue) => `${issue.input === undefined ? 'is missing' : 'is not an https:// URL'}: a skip links to the spec, an issue or the doc of the tag it names`,
            })
          : z.url({ protocol: /^https$/, error: 'is not an https:// URL' }).optional(),
      backends: z
        .array(
          z
            .string()
            .regex(backendName, { error: 'is not a backend name (lower-case letters and digits, as `kpng backends` lists them)' })
            .superRefine((name, ctx) => {
              const other = proxyModes().find((b) => b.proxyMode === name && b.name !== name);
              if (other) ctx.addIssue({ code: 'custom', message: `"${name}" is what ${other.name} answers at /proxyMode; name the backend: ${other.name}` });
            }),
        )
        .min(1, { error: 'is empty: leave it out to mean every backend' }).optional(),
      families: z.array(z.enum(ipFamilies)).min(1, { error: 'is empty: leave it out to mean every family' }).optional(),
      lab: z.literal(false, { error: 'can only be false (the lab leaves the entry out); leave it out to have the lab apply it too' }).optional(),
    })
    .refine((e) => (e.text === undefined) !== (e.regex === undefined), { error: 'needs exactly one of text (the spec text) or regex' });

const fileSchema = z.strictObject({
  focus: z.array(z.unknown()).min(1, { error: 'is empty: nothing would run' }),
  skip: z.array(z.unknown()).default([]),
});

const accepted = `accepted: focus: and skip: lists of { text: <spec text> | regex: <RE2>, reason: <why>, link: https://..., backends: [<backend>, ...] (kpng backends), families: [${ipFamilies.join(', ')}], lab: false } (backends, families and lab optional)`;

/** Parse e2e/skips.yaml text. Throws KPNG_ERR_E2E_SUITES listing every problem with its line. */
export function parseSuites(text: string, file = 'e2e/skips.yaml'): Suites {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const lineOf = (offset: number | undefined) => (offset === undefined ? '?' : String(lineCounter.linePos(offset).line));
  const problems: string[] = [];
  for (const error of doc.errors) problems.push(`${file}:${lineOf(error.pos[0])}: ${error.message.split('\n')[0]}`);
  if (problems.length > 0) throw new KpngError('KPNG_ERR_E2E_SUITES', [`${file} is not valid YAML:`, ...problems.map((p) => `  ${p}`)].join('\n'));

  const top = fileSchema.safeParse(doc.toJS());
  if (!top.success) {
    const lines = top.error.issues.map((issue) => `  ${file}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
    throw new KpngError('KPNG_ERR_E2E_SUITES', [`${file} does not have the expected shape:`, ...lines, `  ${accepted}`].join('\n'));
  }
  const suites: Suites = { file, focus: [], skip: [] };
  for (const kind of ['focus', 'skip'] as const) {
    const node = doc.get(kind, true);
    const items = isSeq(node) ? node.items : [];
    top.data[kind].forEach((raw, index) => {
      const item = items[index] as { range?: [number, number, number] } | undefined;
      const where = `${file}:${lineOf(item?.range?.[0])}`;
      const parsed = entrySchema(kind).safeParse(raw);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          const field = issue.path.length > 0 ? `${issue.path.join('.')} ` : '';
          problems.push(`${where}: ${kind} entry #${index + 1}: ${field}${issue.message}`);
        }
        return;
      }
      const e = parsed.data;
      const written = e.text !== undefined ? { text: e.text } : { regex: e.regex ?? '' };
      suites[kind].push({
        kind,
        where,
        written,
        pattern: e.text !== undefined ? quoteMeta(e.text) : (e.regex ?? ''),
        reason: e.reason,
        ...(e.link ? { link: e.link } : {}),
        ...(e.backends && { backends: e.backends }),
        families: e.families ?? ipFamilies,
        ...(e.lab === false && { lab: false as const }),
      });
    });
  }
  if (problems.length > 0) {
    throw new KpngError('KPNG_ERR_E2E_SUITES', [`${file} has ${problems.length === 1 ? '1 bad entry' : `${problems.length} bad entries`}:`, ...problems.map((p) => `  ${p}`), `  ${accepted}`].join('\n'));
  }
  return suites;
}

export async function readSuites(path: string, shownAs = path): Promise<Suites> {
  return parseSuites(await readFile(path, 'utf8'), shownAs);
}

/** Whether an entry applies to a run of this backend and family (an upstream e2e run unless `run` says the lab). */
export function appliesTo(entry: SuiteEntry, backend: Backend, family: IpFamily, run: SuiteRun = 'e2e'): boolean {
  if (run === 'lab' && entry.lab === false) return false;
  return (entry.backends === undefined || entry.backends.includes(backend)) && entry.families.includes(family);
}

/** How an entry is shown in messages: where it is and what it says. */
export function describeEntry(entry: SuiteEntry): string {
  const what = 'text' in entry.written ? `text ${JSON.stringify(entry.written.text)}` : `regex ${JSON.stringify(entry.written.regex)}`;
  return `${entry.kind} entry at ${entry.where} (${what})`;
}
