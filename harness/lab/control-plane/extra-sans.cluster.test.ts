// The apiserver's serving certificate also names the extra addresses a relay reaches it
// by, so clients that connect through the relay can verify it (the lab's nodes do).
import { readFile } from 'node:fs/promises';
import { checkServerIdentity, connect, type PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from './index.ts';

function servedCertificate(cp: ControlPlane, ca: Buffer): Promise<PeerCertificate> {
  const url = new URL(cp.server);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port), ca, checkServerIdentity: () => undefined }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.on('error', reject);
  });
}

describe('control plane with extraSANs', () => {
  let cp: ControlPlane;
  let cert: PeerCertificate;

  beforeAll(async () => {
    cp = await startControlPlane({ family: 'dual', extraSANs: ['10.99.0.101', 'fd00:99::101'] });
    cert = await servedCertificate(cp, await readFile(cp.certs.caCert));
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('serves a certificate valid for the extra addresses, in both families', () => {
    expect(checkServerIdentity('10.99.0.101', cert)).toBeUndefined();
    expect(checkServerIdentity('fd00:99::101', cert)).toBeUndefined();
  });

  it('and still for loopback, but not for an address nobody asked for', () => {
    expect(checkServerIdentity('127.0.0.1', cert)).toBeUndefined();
    expect(checkServerIdentity('10.99.0.102', cert)).toBeInstanceOf(Error);
  });
});
