// tilt.env: the settings `make tilt-setup` writes and the Tilt loop deploys from.
//
// Reading (parseTiltEnv): one `key=value` per line; blank lines and lines starting with
// `#` are skipped; whitespace around the key and the value is trimmed; a value may be in
// single quotes (literal) or double quotes (\" \\ \n \t escapes); list values are Python
// list literals of strings. Errors name the line, the key and the accepted form, and are
// all reported at once.
//
// Tilt's own dotenv reader splits on the first `=` and keeps everything else: spaces,
// quotes, a carriage return. So whatever we trim or unquote, Tilt would read differently.
// Those places are reported as warnings (errors with `strict: true`); whitespace inside
// quotes is always an error, because no accepted value has any and it is exactly how a
// trailing space survives every editor. The writer (formatTiltEnv) writes only what both
// readers read the same: no quotes, no spaces, no inline comments, one key per line.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import {
  backendNames,
  isBackend,
  deploymentModels,
  imagePullPolicies,
  ipFamilies,
  type Backend,
  type DeploymentModel,
  type ImagePullPolicy,
  type IpFamily,
} from './backends.ts';
import { KpngError } from './errors.ts';
import {
  DNS1123_LABEL_FORM,
  DNS1123_SUBDOMAIN_FORM,
  IMAGE_REF_FORM,
  dns1123LabelSchema,
  dns1123SubdomainSchema,
  imageRefSchema,
} from './names.ts';
import { argsProblems, baseProxyArgs, flagProblems, type StageFlags } from './proxy-args.ts';
import { ListSyntaxError, formatPyList, parsePyList } from './py-list.ts';
import { didYouMean } from './suggest.ts';

export interface TiltEnv {
  /** kpng_image: the proxy image the DaemonSet runs. */
  image: string;
  /** image_pull_policy */
  imagePullPolicy: ImagePullPolicy;
  /** backend */
  backend: Backend;
  /** config_map_name: a kubeconfig ConfigMap, or '' for the ServiceAccount's in-cluster config. */
  configMapName: string;
  /** service_account_name */
  serviceAccountName: string;
  /** namespace */
  namespace: string;
  /** e2e_backend_args: args of the backend container (the only container in the single model). */
  backendArgs: string[];
  /** e2e_server_args: args of the server container; [] in the single model. */
  serverArgs: string[];
  /** deployment_model */
  model: DeploymentModel;
  /** ip_family */
  family: IpFamily;
  /** cluster_name: the kind cluster (optional in the file). */
  clusterName: string;
}

const argList = z.array(z.string().min(1, { error: 'list items are not empty strings' }));

export const tiltEnvSchema = z.strictObject({
  image: imageRefSchema,
  imagePullPolicy: z.enum(imagePullPolicies),
  backend: z.string().refine((v) => isBackend(v), { error: (issue) => `${JSON.stringify(issue.input)} is not a backend the proxy offers` }),
  configMapName: z.union([z.literal(''), dns1123SubdomainSchema]),
  serviceAccountName: dns1123SubdomainSchema,
  namespace: dns1123LabelSchema,
  backendArgs: argList.min(1, { error: 'the backend container needs arguments' }),
  serverArgs: argList,
  model: z.enum(deploymentModels),
  family: z.enum(ipFamilies),
  clusterName: dns1123LabelSchema,
});

interface KeySpec {
  key: string;
  field: keyof TiltEnv;
  list: boolean;
  required: boolean;
  schema: z.ZodType;
  accepted: string;
  choices?: readonly string[];
}

const shape = tiltEnvSchema.shape;
const listForm = "a Python-style list of quoted strings, e.g. ['local', '--api=unix:///k8s/proxy.sock', 'to-nft']";
const oneOf = (values: readonly string[]) => `one of ${values.join(', ')}`;

/** The keys in the order the writer writes them (KPNG's keys, then ours). */
export const tiltEnvKeys: readonly KeySpec[] = [
  { key: 'kpng_image', field: 'image', list: false, required: true, schema: shape.image, accepted: IMAGE_REF_FORM },
  {
    key: 'image_pull_policy',
    field: 'imagePullPolicy',
    list: false,
    required: true,
    schema: shape.imagePullPolicy,
    accepted: oneOf(imagePullPolicies),
    choices: imagePullPolicies,
  },
  {
    key: 'backend',
    field: 'backend',
    list: false,
    required: true,
    schema: shape.backend,
    // The backends the proxy offers (`kpng backends --json`), asked when a message needs them.
    get accepted() {
      return oneOf(backendNames());
    },
    get choices() {
      return backendNames();
    },
  },
  {
    key: 'config_map_name',
    field: 'configMapName',
    list: false,
    required: true,
    schema: shape.configMapName,
    accepted: `empty (the ServiceAccount's in-cluster config) or the name of a kubeconfig ConfigMap, ${DNS1123_SUBDOMAIN_FORM}`,
  },
  {
    key: 'service_account_name',
    field: 'serviceAccountName',
    list: false,
    required: true,
    schema: shape.serviceAccountName,
    accepted: DNS1123_SUBDOMAIN_FORM,
  },
  { key: 'namespace', field: 'namespace', list: false, required: true, schema: shape.namespace, accepted: DNS1123_LABEL_FORM },
  { key: 'e2e_backend_args', field: 'backendArgs', list: true, required: true, schema: shape.backendArgs, accepted: listForm },
  {
    key: 'e2e_server_args',
    field: 'serverArgs',
    list: true,
    required: true,
    schema: shape.serverArgs,
    accepted: `${listForm}; [] for single-process-per-node`,
  },
  {
    key: 'deployment_model',
    field: 'model',
    list: false,
    required: true,
    schema: shape.model,
    accepted: oneOf(deploymentModels),
    choices: deploymentModels,
  },
  { key: 'ip_family', field: 'family', list: false, required: true, schema: shape.family, accepted: oneOf(ipFamilies), choices: ipFamilies },
  {
    key: 'cluster_name',
    field: 'clusterName',
    list: false,
    required: false,
    schema: shape.clusterName,
    accepted: `the kind cluster's name, ${DNS1123_LABEL_FORM}`,
  },
];

const keyNames = tiltEnvKeys.map((spec) => spec.key);
const specByField = new Map(tiltEnvKeys.map((spec) => [spec.field, spec]));
const specByKey = new Map(tiltEnvKeys.map((spec) => [spec.key, spec]));

export const tiltEnvDefaults = {
  image: 'kpng:dev',
  imagePullPolicy: 'IfNotPresent',
  configMapName: '',
  serviceAccountName: 'kpng',
  namespace: 'kpng-system',
  clusterName: 'kpng-proxy',
} as const satisfies Partial<TiltEnv>;

export type TiltEnvIssueCode =
  | 'KPNG_ERR_TILT_ENV_SYNTAX'
  | 'KPNG_ERR_TILT_ENV_UNKNOWN_KEY'
  | 'KPNG_ERR_TILT_ENV_DUPLICATE_KEY'
  | 'KPNG_ERR_TILT_ENV_MISSING_KEY'
  | 'KPNG_ERR_TILT_ENV_VALUE'
  | 'KPNG_ERR_TILT_ENV_LIST'
  | 'KPNG_ERR_TILT_ENV_WHITESPACE'
  | 'KPNG_ERR_TILT_ENV_QUOTED'
  | 'KPNG_ERR_TILT_ENV_INCONSISTENT'
  | 'KPNG_ERR_TILT_ENV_PROXY_FLAG'
  | 'KPNG_ERR_TILT_ENV_UNREADABLE'
  | 'KPNG_ERR_TILT_ENV_UNWRITABLE';

export interface TiltEnvIssue {
  code: TiltEnvIssueCode;
  /** 1-based line, when the issue has one. */
  line?: number;
  key?: string;
  message: string;
}

export function formatIssue(file: string, issue: TiltEnvIssue): string {
  const where = issue.line === undefined ? file : `${file}:${issue.line}`;
  const key = issue.key === undefined ? '' : ` ${issue.key}:`;
  return `${where}:${key} ${issue.message} [${issue.code}]`;
}

/** tilt.env cannot be used as it is: `issues` says where and why (code KPNG_ERR_TILT_ENV_INVALID). */
export class TiltEnvError extends KpngError {
  readonly file: string;
  readonly issues: readonly TiltEnvIssue[];

  constructor(file: string, issues: readonly TiltEnvIssue[]) {
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    super('KPNG_ERR_TILT_ENV_INVALID', [`${file} has ${count}:`, ...issues.map((issue) => `  ${formatIssue(file, issue)}`)].join('\n'));
    this.name = 'TiltEnvError';
    this.file = file;
    this.issues = issues;
  }
}

export interface ParseTiltEnvOptions {
  /** Shown in messages (default "tilt.env"). */
  file?: string;
  /** Treat what Tilt's dotenv would read differently (surrounding whitespace, quotes, CR) as errors. */
  strict?: boolean;
}

export interface ParsedTiltEnv {
  env: TiltEnv;
  /** What was accepted here but reads differently through Tilt's dotenv. */
  warnings: TiltEnvIssue[];
  /** The 1-based line of each key that is set in the file. */
  lines: Readonly<Record<string, number>>;
}

interface DecodedValue {
  value: string;
  quoted: boolean;
}

const TILT_NOTE = "Tilt's dotenv keeps it in the value";

function decodeValue(raw: string, line: number, key: string, issues: TiltEnvIssue[], warnings: TiltEnvIssue[]): DecodedValue | undefined {
  const lead = raw.trimStart();
  const quote = lead[0];
  if (quote === "'" || quote === '"') {
    let value = '';
    let i = 1;
    let closed = false;
    while (i < lead.length) {
      const c = lead[i] ?? '';
      if (c === quote) {
        closed = true;
        i++;
        break;
      }
      if (quote === '"' && c === '\\') {
        const next = lead[i + 1] ?? '';
        const escaped = ({ '"': '"', '\\': '\\', n: '\n', t: '\t' } as Record<string, string>)[next];
        if (escaped === undefined) {
          issues.push({ code: 'KPNG_ERR_TILT_ENV_SYNTAX', line, key, message: `unknown escape "\\${next}" in a double-quoted value; accepted: \\" \\\\ \\n \\t` });
          return undefined;
        }
        value += escaped;
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    if (!closed) {
      issues.push({ code: 'KPNG_ERR_TILT_ENV_SYNTAX', line, key, message: `the value opens with ${quote} but is not closed; close it on the same line` });
      return undefined;
    }
    const rest = lead.slice(i);
    if (rest.trim() !== '') {
      issues.push({
        code: 'KPNG_ERR_TILT_ENV_SYNTAX',
        line,
        key,
        message: `unexpected text after the closing quote: ${JSON.stringify(rest.trim())}; accepted: key=value, with comments on lines of their own`,
      });
      return undefined;
    }
    if (value !== value.trim()) {
      issues.push({
        code: 'KPNG_ERR_TILT_ENV_WHITESPACE',
        line,
        key,
        message: `the quoted value ${JSON.stringify(value)} has leading or trailing whitespace; no ${key} value has any: remove it`,
      });
      return undefined;
    }
    warnings.push({ code: 'KPNG_ERR_TILT_ENV_QUOTED', line, key, message: `the value is quoted; ${TILT_NOTE} quotes included: write ${key}=${value}` });
    if (rest !== '' || lead !== raw) whitespaceWarning(raw, line, key, warnings);
    return { value, quoted: true };
  }
  const value = raw.trim();
  if (value !== raw) whitespaceWarning(raw, line, key, warnings);
  if (!value.startsWith('[') && /\s#/.test(value)) {
    issues.push({
      code: 'KPNG_ERR_TILT_ENV_SYNTAX',
      line,
      key,
      message: `inline comments are not supported (${TILT_NOTE}); put the comment on a line of its own`,
    });
    return undefined;
  }
  return { value, quoted: false };
}

function whitespaceWarning(raw: string, line: number, key: string, warnings: TiltEnvIssue[]): void {
  const what = raw.endsWith('\r') ? 'a carriage return (CRLF line ending)' : 'whitespace around the value';
  warnings.push({ code: 'KPNG_ERR_TILT_ENV_WHITESPACE', line, key, message: `${what} is ignored here, but ${TILT_NOTE}: remove it` });
}

function zodMessage(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid value';
  return issue.message;
}

/** Parse and validate tilt.env text. Throws TiltEnvError listing every problem. */
export function parseTiltEnv(text: string, options: ParseTiltEnvOptions = {}): ParsedTiltEnv {
  const file = options.file ?? 'tilt.env';
  const issues: TiltEnvIssue[] = [];
  const warnings: TiltEnvIssue[] = [];
  const values = new Map<keyof TiltEnv, unknown>();
  const lineOf = new Map<string, number>();

  text.split('\n').forEach((rawLine, index) => {
    const line = index + 1;
    const trimmed = rawLine.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const eq = rawLine.indexOf('=');
    if (eq < 0) {
      issues.push({
        code: 'KPNG_ERR_TILT_ENV_SYNTAX',
        line,
        message: `expected key=value, got ${JSON.stringify(trimmed)}; comments start with #`,
      });
      return;
    }
    const rawKey = rawLine.slice(0, eq);
    const key = rawKey.trim();
    if (key === '') {
      issues.push({ code: 'KPNG_ERR_TILT_ENV_SYNTAX', line, message: `no key before "="; accepted keys: ${keyNames.join(', ')}` });
      return;
    }
    if (rawKey !== key) {
      warnings.push({ code: 'KPNG_ERR_TILT_ENV_WHITESPACE', line, key, message: `whitespace around the key is ignored here, but Tilt's dotenv reads the key as ${JSON.stringify(rawKey)}: write ${key}=...` });
    }
    const previous = lineOf.get(key);
    if (previous !== undefined) {
      issues.push({ code: 'KPNG_ERR_TILT_ENV_DUPLICATE_KEY', line, key, message: `already set on line ${previous}; set each key once` });
      return;
    }
    lineOf.set(key, line);
    const spec = specByKey.get(key);
    if (spec === undefined) {
      issues.push({
        code: 'KPNG_ERR_TILT_ENV_UNKNOWN_KEY',
        line,
        key,
        message: `unknown key${didYouMean(key, keyNames)}; accepted keys: ${keyNames.join(', ')}`,
      });
      return;
    }
    const decoded = decodeValue(rawLine.slice(eq + 1), line, key, issues, warnings);
    if (decoded === undefined) return;
    let candidate: unknown = decoded.value;
    if (spec.list) {
      try {
        candidate = parsePyList(decoded.value);
      } catch (error) {
        if (!(error instanceof ListSyntaxError)) throw error;
        issues.push({ code: 'KPNG_ERR_TILT_ENV_LIST', line, key, message: `${error.message}; accepted: ${spec.accepted}` });
        return;
      }
    }
    const result = spec.schema.safeParse(candidate);
    if (!result.success) {
      const shown = JSON.stringify(candidate);
      const hint = spec.choices && typeof candidate === 'string' ? didYouMean(candidate, spec.choices) : '';
      const reason = spec.choices ? `${shown} is not accepted${hint}` : zodMessage(result.error);
      issues.push({ code: 'KPNG_ERR_TILT_ENV_VALUE', line, key, message: `${reason}; accepted: ${spec.accepted}` });
      return;
    }
    values.set(spec.field, result.data);
  });

  for (const spec of tiltEnvKeys) {
    if (lineOf.has(spec.key)) continue;
    if (!spec.required) {
      values.set(spec.field, tiltEnvDefaults[spec.field as keyof typeof tiltEnvDefaults]);
      continue;
    }
    issues.push({ code: 'KPNG_ERR_TILT_ENV_MISSING_KEY', key: spec.key, message: `missing; add a line ${spec.key}=<value>, where <value> is ${spec.accepted}` });
  }

  if (issues.length === 0) {
    const env = Object.fromEntries(values) as unknown as TiltEnv;
    for (const problem of consistencyProblems(env)) issues.push({ ...problem, line: lineOf.get(problem.key ?? '') });
  }
  if (options.strict) issues.push(...warnings);
  if (issues.length > 0) {
    issues.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
    throw new TiltEnvError(file, issues);
  }
  return { env: Object.fromEntries(values) as unknown as TiltEnv, warnings, lines: Object.fromEntries(lineOf) };
}

function consistencyProblems(env: TiltEnv): TiltEnvIssue[] {
  const problems = argsProblems({
    backend: env.backend,
    model: env.model,
    backendArgs: env.backendArgs,
    serverArgs: env.serverArgs,
    kubeconfig: env.configMapName !== '',
  });
  return problems.map((problem) => ({
    code: 'KPNG_ERR_TILT_ENV_INCONSISTENT' as const,
    key: problem.which === 'backend' ? 'e2e_backend_args' : 'e2e_server_args',
    message: `${problem.message} (backend=${env.backend}, deployment_model=${env.model}, config_map_name=${env.configMapName === '' ? '<empty>' : env.configMapName})`,
  }));
}

/**
 * Whether the proxy itself takes every stage and flag in tilt.env's argument lists (asked
 * through `flagsOf`, i.e. `kpng <stage> --help`). Throws TiltEnvError naming the argument,
 * its line and the accepted flags: the DaemonSet would otherwise crash-loop on exit 2.
 */
export function checkProxyFlags(parsed: ParsedTiltEnv, flagsOf: StageFlags, file = 'tilt.env'): void {
  const issues: TiltEnvIssue[] = [];
  for (const [key, args] of [['e2e_backend_args', parsed.env.backendArgs], ['e2e_server_args', parsed.env.serverArgs]] as const) {
    for (const problem of flagProblems(args, flagsOf)) {
      issues.push({
        code: 'KPNG_ERR_TILT_ENV_PROXY_FLAG',
        line: parsed.lines[key],
        key,
        message: `${JSON.stringify(problem.arg)}: ${problem.message} (the container would exit 2 and the DaemonSet crash-loop)`,
      });
    }
  }
  if (issues.length > 0) throw new TiltEnvError(file, issues);
}

/** Read and parse tilt.env. A file that cannot be read is a TiltEnvError naming it (ENOENT stays as it is: callers say how to make one). */
export async function readTiltEnv(path: string, options: ParseTiltEnvOptions = {}): Promise<ParsedTiltEnv> {
  const text = await readFile(path, 'utf8').catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw error;
    const why = code === 'EISDIR' ? 'is a directory (accepted: a tilt.env file)' : `cannot be read: ${(error as Error).message}`;
    throw new TiltEnvError(path, [{ code: 'KPNG_ERR_TILT_ENV_UNREADABLE', message: why }]);
  });
  return parseTiltEnv(text, { file: path, ...options });
}

export const DEFAULT_TILT_ENV_HEADER: readonly string[] = [
  'Written by the kpng harness (make tilt-setup); read by the Tilt loop (make tilt-up).',
  'key=value, nothing else on the line: no quotes, no spaces, no trailing comments, because',
  "Tilt's dotenv reader keeps them in the value. List values are Python-style lists of strings.",
];

/** Why `value` cannot be written so that Tilt's dotenv and parseTiltEnv both read it back unchanged. */
function unwritable(value: string): string | undefined {
  if (/[\r\n]/.test(value)) return 'contains a line break';
  if (value !== value.trim()) return 'has leading or trailing whitespace';
  if (/\s#/.test(value)) return 'contains " #", which some dotenv readers take for a comment';
  if (value.startsWith("'") || value.startsWith('"')) return 'starts with a quote';
  return undefined;
}

export interface FormatTiltEnvOptions {
  /** Comment lines at the top (without "# "); default DEFAULT_TILT_ENV_HEADER. */
  header?: readonly string[];
}

/** tilt.env text for `env`: validated, one `key=value` per line, no trailing whitespace. */
export function formatTiltEnv(env: TiltEnv, options: FormatTiltEnvOptions = {}): string {
  const file = 'tilt.env (to write)';
  const result = tiltEnvSchema.safeParse(env);
  if (!result.success) {
    throw new TiltEnvError(
      file,
      result.error.issues.map((issue) => {
        const spec = specByField.get(issue.path[0] as keyof TiltEnv);
        return {
          code: 'KPNG_ERR_TILT_ENV_VALUE' as const,
          key: spec?.key ?? issue.path.join('.'),
          message: spec ? `${issue.message}; accepted: ${spec.accepted}` : issue.message,
        };
      }),
    );
  }
  const issues = consistencyProblems(env);
  const lines: string[] = [];
  for (const comment of options.header ?? DEFAULT_TILT_ENV_HEADER) {
    if (/[\r\n]/.test(comment)) throw new KpngError('KPNG_ERR_TILT_ENV_UNWRITABLE', 'a header line contains a line break');
    lines.push(`# ${comment}`.trimEnd());
  }
  for (const spec of tiltEnvKeys) {
    const raw = env[spec.field];
    const value = Array.isArray(raw) ? formatPyList(raw) : String(raw);
    const problem = unwritable(value);
    if (problem !== undefined) {
      issues.push({ code: 'KPNG_ERR_TILT_ENV_UNWRITABLE', key: spec.key, message: `the value ${JSON.stringify(value)} ${problem}` });
      continue;
    }
    lines.push(`${spec.key}=${value}`);
  }
  if (issues.length > 0) throw new TiltEnvError(file, issues);
  return `${lines.join('\n')}\n`;
}

/** Write tilt.env atomically (a temporary file renamed into place). */
export async function writeTiltEnv(path: string, env: TiltEnv, options: FormatTiltEnvOptions = {}): Promise<void> {
  const text = formatTiltEnv(env, options);
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, text, 'utf8');
  await rename(temporary, path);
}

export interface TiltEnvForOptions {
  backend: Backend;
  family: IpFamily;
  model: DeploymentModel;
  image?: string;
  imagePullPolicy?: ImagePullPolicy;
  configMapName?: string;
  serviceAccountName?: string;
  namespace?: string;
  clusterName?: string;
}

/**
 * The tilt.env for a backend × family × model, with the proxy's default arguments. They hold
 * nothing derived from the family: the pod CIDRs (--cluster-cidr) are added when the
 * DaemonSet is rendered, so changing ip_family cannot leave a stale CIDR behind.
 */
export function tiltEnvFor(options: TiltEnvForOptions): TiltEnv {
  const configMapName = options.configMapName ?? tiltEnvDefaults.configMapName;
  const args = baseProxyArgs({ backend: options.backend, model: options.model, kubeconfig: configMapName !== '' });
  return {
    image: options.image ?? tiltEnvDefaults.image,
    imagePullPolicy: options.imagePullPolicy ?? tiltEnvDefaults.imagePullPolicy,
    backend: options.backend,
    configMapName,
    serviceAccountName: options.serviceAccountName ?? tiltEnvDefaults.serviceAccountName,
    namespace: options.namespace ?? tiltEnvDefaults.namespace,
    backendArgs: args.backend,
    serverArgs: args.server,
    model: options.model,
    family: options.family,
    clusterName: options.clusterName ?? tiltEnvDefaults.clusterName,
  };
}

