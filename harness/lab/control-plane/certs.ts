// Certificates for a throwaway control plane: a CA, the apiserver's serving cert, an
// admin client cert (system:masters) and the service-account key pair. Made with openssl.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { processRunner } from '../../../proxy/exec.ts';
import { harnessErrorText } from '../../config/error-codes.ts';

export interface ControlPlaneCerts {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await processRunner()('openssl', args, { cwd });
  if (r.exitCode !== 0) throw new Error(harnessErrorText('KPNG_ERR_CONTROL_PLANE', `openssl ${args.join(' ')} ${r.exitCode === undefined ? `did not run (${r.error ?? 'killed'})` : `exited with ${r.exitCode}`}: ${r.stderr.trim()}`));
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const days = '2';

/** A certificate for `name` signed by the CA in dir (ca.crt, ca.key): name.crt and name.key. */
export async function issueCert(dir: string, name: string, subj: string, ext: string): Promise<{ cert: string; key: string }> {
  await writeFile(path.join(dir, `${name}.ext`), ext);
  await openssl(['req', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj], dir);
  await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', days, '-extfile', `${name}.ext`], dir);
  return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
}

/** A client certificate: CN is the user name, each O a group. */
export function issueClientCert(dir: string, name: string, user: string, groups: string[] = []): Promise<{ cert: string; key: string }> {
  const subj = [...groups.map((g) => `/O=${g}`), `/CN=${user}`].join('');
  return issueCert(dir, name, subj, 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
}

/** A server certificate for these DNS names and IP addresses. */
export function issueServerCert(dir: string, name: string, dnsNames: string[], ips: string[]): Promise<{ cert: string; key: string }> {
  const altNames = [...dnsNames.map((d) => `DNS:${d}`), ...ips.map((ip) => `IP:${ip}`)].join(',');
  return issueCert(dir, name, `/CN=${dnsNames[0] ?? ips[0] ?? name}`, `subjectAltName=${altNames}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n`);
}

/** A new CA in dir: ca.crt and ca.key. */
export async function makeCA(dir: string, cn = 'kpng-lab-ca'): Promise<{ cert: string; key: string }> {
  await openssl(['req', '-x509', ...ecKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', days, '-subj', `/CN=${cn}`], dir);
  return { cert: path.join(dir, 'ca.crt'), key: path.join(dir, 'ca.key') };
}

/** Write the certificates into dir. `sans` are the apiserver's IP subject alternative names. */
export async function makeCerts(dir: string, sans: string[]): Promise<ControlPlaneCerts> {
  const p = (f: string) => path.join(dir, f);
  await makeCA(dir);
  await issueServerCert(dir, 'apiserver', ['kube-apiserver', 'localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'], sans);
  await issueClientCert(dir, 'admin', 'kpng-admin', ['system:masters']);
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'], dir);
  await openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  return {
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('apiserver.crt'),
    serverKey: p('apiserver.key'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    saKey: p('sa.key'),
    saPub: p('sa.pub'),
  };
}
