import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent as HttpsAgent } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadKubeConfig } from './kubeconfig.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kpng-kubeconfig-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const config = (cluster: Record<string, unknown>, user: Record<string, unknown> = {}, current = 'c') => ({
  apiVersion: 'v1',
  kind: 'Config',
  'current-context': current,
  contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
  clusters: [{ name: 'k', cluster }],
  users: [{ name: 'u', user }],
});

async function write(doc: unknown, name = 'config'): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, typeof doc === 'string' ? doc : stringify(doc));
  return file;
}

describe('a kubeconfig read without the client library', () => {
  it('connects with the current context: CA and client certificate from files relative to the kubeconfig, and a bearer token', async () => {
    await writeFile(path.join(dir, 'ca.pem'), 'CA');
    await writeFile(path.join(dir, 'cert.pem'), 'CERT');
    await writeFile(path.join(dir, 'key.pem'), 'KEY');
    const file = await write(config({ server: 'https://10.0.0.1:6443/', 'certificate-authority': 'ca.pem', 'tls-server-name': 'api' }, { 'client-certificate': 'cert.pem', 'client-key': 'key.pem', token: 't0k', as: 'someone' }));
    const api = loadKubeConfig(file);
    expect(api.server.href).toBe('https://10.0.0.1:6443/');
    const opts = await api.requestOptions();
    expect(opts.headers).toEqual({ Authorization: 'Bearer t0k', 'Impersonate-User': 'someone' });
    const agent = opts.agent as HttpsAgent;
    expect(agent).toBeInstanceOf(HttpsAgent);
    expect(agent.options).toMatchObject({ ca: Buffer.from('CA'), cert: Buffer.from('CERT'), key: Buffer.from('KEY'), servername: 'api', keepAlive: true });
    // The same material: the same agent (connections are reused); a rotated certificate: a new one.
    expect((await api.requestOptions()).agent).toBe(agent);
    await writeFile(path.join(dir, 'cert.pem'), 'CERT2');
    expect(((await api.requestOptions()).agent as HttpsAgent).options.cert).toEqual(Buffer.from('CERT2'));
  });

  it('takes inline base64 data, insecure-skip-tls-verify and basic auth', async () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const file = await write(config({ server: 'https://h:1', 'certificate-authority-data': b64('CA'), 'insecure-skip-tls-verify': true }, { 'client-certificate-data': b64('C'), 'client-key-data': b64('K'), username: 'me', password: 'pw' }));
    const opts = await loadKubeConfig(file).requestOptions();
    expect(opts.auth).toBe('me:pw');
    expect((opts.agent as HttpsAgent).options).toMatchObject({ ca: Buffer.from('CA'), cert: Buffer.from('C'), key: Buffer.from('K'), rejectUnauthorized: false });
  });

  it('refuses plain http unless TLS verification is off, as the client library does', async () => {
    await expect(loadKubeConfig(await write(config({ server: 'http://h:8080' }))).requestOptions()).rejects.toThrow(/HTTP protocol is not allowed/);
    expect((await loadKubeConfig(await write(config({ server: 'http://h:8080', 'insecure-skip-tls-verify': true }), 'ok')).requestOptions()).agent).toBeDefined();
  });

  it('leaves exec and auth-provider users to the client library, loaded only then', async () => {
    const file = await write(config({ server: 'https://h:1' }, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'true' } }));
    const api = loadKubeConfig(file);
    expect(api.server.host).toBe('h:1');
  });

  it('names the file and what is wrong with it', async () => {
    const noContext = await write(config({ server: 'https://h:1' }, {}, 'other'));
    expect(() => loadKubeConfig(noContext)).toThrow(`KPNG_ERR_KUBECONFIG: ${noContext} (--kubeconfig): has no current cluster (current-context "other"`);
    const noServer = await write(config({}), 'noserver');
    expect(() => loadKubeConfig(noServer)).toThrow(/KPNG_ERR_KUBECONFIG: .* cannot be read as a kubeconfig: cluster k: server is missing/);
    expect(() => loadKubeConfig(path.join(dir, 'absent'))).toThrow(/\(--kubeconfig\): no such file/);
  });
});
