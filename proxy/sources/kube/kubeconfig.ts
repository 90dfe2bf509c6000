// Where the API server is and how to authenticate to it: a kubeconfig file or the
// in-cluster service account, read the way @kubernetes/client-node reads them (same
// fields, relative paths against the file's folder, a token file re-read every minute).
// Only users that need a plugin (exec, auth-provider) or a proxy-url fall back to the
// client library itself, loaded then: it costs ~80 MiB and ~0.5 s to load, which a proxy
// that authenticates with a certificate or a token does not pay.
import { readFileSync } from 'node:fs';
import type { Agent as HttpAgent, RequestOptions } from 'node:http';
import { isIPv6 } from 'node:net';
import path from 'node:path';
import { parse } from 'yaml';
import { errorText } from '../../errors.ts';
import { http, https } from '../../runtime/http.ts';

export class KubeConfigError extends Error {
  readonly code = 'KPNG_ERR_KUBECONFIG';
  constructor(message: string) {
    super(errorText('KPNG_ERR_KUBECONFIG', message));
  }
}

/** The API server and the options of every request to it. */
export interface ApiConnection {
  readonly server: URL;
  /** TLS material, a keep-alive agent and auth headers; read again when files may have changed. */
  requestOptions(): Promise<RequestOptions>;
}

const serviceAccount = '/var/run/secrets/kubernetes.io/serviceaccount';
const tokenRereadMs = 60_000;

interface Cluster {
  server: string;
  caFile?: string;
  caData?: string;
  skipTLSVerify: boolean;
  tlsServerName?: string;
  proxyUrl?: string;
}

interface User {
  certFile?: string;
  certData?: string;
  keyFile?: string;
  keyData?: string;
  token?: string;
  /** Re-read every minute (the in-cluster service account's rotating token). */
  tokenFile?: string;
  username?: string;
  password?: string;
  impersonate?: string;
  /** exec or auth-provider: only the client library knows how. */
  plugin: boolean;
}

type Doc = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const obj = (v: unknown): Doc => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Doc) : {});
const named = (list: unknown, name: string, field: string): Doc | undefined => {
  if (!Array.isArray(list)) return undefined;
  list.forEach((e, i) => {
    if (!str(obj(e).name)) throw new Error(`${field}[${i}].name is missing`);
  });
  const entry = list.find((e) => obj(e).name === name);
  return entry === undefined ? undefined : obj(obj(entry)[field.slice(0, -1)]);
};

/** Where the kubeconfig comes from: a file, else $KUBECONFIG, else the in-cluster service account. */
export function loadKubeConfig(file?: string): ApiConnection {
  const where = file || process.env.KUBECONFIG;
  if (!where) {
    const host = process.env.KUBERNETES_SERVICE_HOST;
    const port = process.env.KUBERNETES_SERVICE_PORT;
    const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
    const server = `${scheme}://${host && isIPv6(host) ? `[${host}]` : host}:${port}`;
    return connection({ server, caFile: `${serviceAccount}/ca.crt`, skipTLSVerify: false }, { tokenFile: `${serviceAccount}/token`, plugin: false });
  }
  // Every problem names the file (and where its name came from): a bare EISDIR or YAML error says neither.
  const bad = (why: string) => new KubeConfigError(`${where} (${file ? '--kubeconfig' : '$KUBECONFIG'}): ${why}`);
  let cluster: Cluster | undefined;
  let user: User;
  let context: string;
  try {
    const doc = obj(parse(readFileSync(where, 'utf8')));
    context = str(doc['current-context']) ?? '';
    const dir = path.dirname(where);
    const abs = (p: string | undefined) => (p === undefined ? undefined : path.resolve(dir, p));
    const ctx = named(doc.contexts, context, 'contexts');
    const c = ctx && str(ctx.cluster) !== undefined ? named(doc.clusters, str(ctx.cluster)!, 'clusters') : undefined;
    if (c) {
      const server = str(c.server);
      if (server === undefined) throw new Error(`cluster ${String(ctx!.cluster)}: server is missing`);
      cluster = {
        server: server.replace(/\/$/, ''),
        ...optional('caFile', abs(str(c['certificate-authority']))),
        ...optional('caData', str(c['certificate-authority-data'])),
        skipTLSVerify: c['insecure-skip-tls-verify'] === true,
        ...optional('tlsServerName', str(c['tls-server-name'])),
        ...optional('proxyUrl', str(c['proxy-url'])),
      };
    }
    const u = ctx && str(ctx.user) !== undefined ? (named(doc.users, str(ctx.user)!, 'users') ?? {}) : {};
    const tokenFile = str(u['token-file']);
    user = {
      ...optional('certFile', abs(str(u['client-certificate']))),
      ...optional('certData', str(u['client-certificate-data'])),
      ...optional('keyFile', abs(str(u['client-key']))),
      ...optional('keyData', str(u['client-key-data'])),
      // client-node reads a token-file once, when the kubeconfig is loaded.
      ...optional('token', str(u.token) ?? (tokenFile !== undefined ? readFileSync(tokenFile, 'utf8') : undefined)),
      ...optional('username', str(u.username)),
      ...optional('password', str(u.password)),
      ...optional('impersonate', str(u.as)),
      plugin: u.exec != null || u['auth-provider'] != null,
    };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EISDIR') throw bad('is a directory (accepted: a kubeconfig file)');
    if (err.code === 'ENOENT' && err.path === where) throw bad('no such file');
    throw bad(`cannot be read as a kubeconfig: ${err.message.split('\n')[0]}`);
  }
  if (!cluster) throw bad(`has no current cluster (current-context ${JSON.stringify(context)}; accepted: a kubeconfig whose current-context names a cluster)`);
  if (user.plugin || cluster.proxyUrl !== undefined) return libraryConnection(where, cluster.server);
  return connection(cluster, user);
}

function optional<K extends string, V>(key: K, value: V | undefined): { [k in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [k in K]?: V };
}

const fileOrData = (file: string | undefined, data: string | undefined): Buffer | undefined =>
  file !== undefined ? readFileSync(file) : data !== undefined ? Buffer.from(data, 'base64') : undefined;

function connection(cluster: Cluster, user: User): ApiConnection {
  const server = new URL(cluster.server);
  if (server.protocol === 'http:' && !cluster.skipTLSVerify) {
    const refuse = () => Promise.reject(new Error('HTTP protocol is not allowed when skipTLSVerify is not set or false'));
    return { server, requestOptions: refuse };
  }
  let agent: HttpAgent | undefined;
  let material: (Buffer | undefined)[] = [];
  let token = user.token;
  let tokenReadAt = -Infinity;
  return {
    server,
    async requestOptions() {
      // Files are read again for each request (a watch lasts minutes): rotated certificates are picked up.
      const now = [fileOrData(cluster.caFile, cluster.caData), fileOrData(user.certFile, user.certData), fileOrData(user.keyFile, user.keyData)];
      if (!agent || now.some((b, i) => !(b === material[i] || (b && material[i] && b.equals(material[i]))))) {
        agent?.destroy();
        const [ca, cert, key] = (material = now);
        agent =
          server.protocol === 'http:'
            ? new http.Agent({ keepAlive: true })
            : new https.Agent({
                keepAlive: true,
                ...(ca && { ca }),
                ...(cert && { cert }),
                ...(key && { key }),
                ...(cluster.skipTLSVerify && { rejectUnauthorized: false }),
                ...(cluster.tlsServerName !== undefined && { servername: cluster.tlsServerName }),
              });
      }
      if (user.tokenFile !== undefined && performance.now() - tokenReadAt > tokenRereadMs) {
        token = readFileSync(user.tokenFile, 'utf8');
        tokenReadAt = performance.now();
      }
      const headers: Record<string, string> = {};
      if (token) headers.Authorization = `Bearer ${token}`;
      if (user.impersonate !== undefined) headers['Impersonate-User'] = user.impersonate;
      return { agent, headers, ...(user.username !== undefined && { auth: `${user.username}:${user.password ?? ''}` }) };
    },
  };
}

/** exec and auth-provider users, and proxies: @kubernetes/client-node's KubeConfig does it all. */
function libraryConnection(file: string, server: string): ApiConnection {
  let kc: Promise<{ applyToHTTPSOptions(o: unknown): Promise<void> }> | undefined;
  return {
    server: new URL(server),
    async requestOptions() {
      kc ??= import('@kubernetes/client-node').then(({ KubeConfig }) => {
        const k = new KubeConfig();
        k.loadFromFile(file);
        return k;
      });
      const opts: RequestOptions = { headers: {} };
      await (await kc).applyToHTTPSOptions(opts);
      return opts;
    },
  };
}
