// The lab's probe client, run inside a namespace by the project's node:
//   node probe-client.ts '{"kind":"http","url":"http://10.244.2.2:8080/","timeoutMs":2000}'
//   node probe-client.ts '{"kind":"udp","host":"10.244.2.2","port":5353,"payload":"hi","timeoutMs":2000}'
// Makes one real request from this namespace and prints one JSON ProbeOutcome line.
// The UDP socket is connected, so an ICMP port unreachable comes back as ECONNREFUSED.

import dgram from 'node:dgram';
import http from 'node:http';
import { isIP } from 'node:net';
import { failureOf, type ProbeOutcome, type ProbeRequest } from './probe-protocol.ts';

const request = JSON.parse(process.argv[2] ?? '{}') as ProbeRequest;
const started = performance.now();
let finished = false;

type Unmeasured<T> = T extends unknown ? Omit<T, 'elapsedMs'> : never;

function finish(outcome: Unmeasured<ProbeOutcome>): void {
  if (finished) return;
  finished = true;
  const elapsedMs = Math.round(performance.now() - started);
  process.stdout.write(`${JSON.stringify({ ...outcome, elapsedMs })}\n`, () => process.exit(0));
}

function fail(error: unknown): void {
  const errno = (error as NodeJS.ErrnoException).code;
  finish({ ok: false, failure: failureOf(errno), ...(errno ? { errno } : {}), message: String((error as Error).message ?? error) });
}

setTimeout(() => finish({ ok: false, failure: 'timeout', message: `no answer within ${request.timeoutMs} ms` }), request.timeoutMs);

if (request.kind === 'http') {
  const req = http.request(
    request.url,
    { method: 'GET', agent: false, headers: { connection: 'close' }, ...(request.localAddress ? { localAddress: request.localAddress } : {}) },
    (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => finish({ ok: true, kind: 'http', status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      response.on('error', fail);
    },
  );
  req.on('error', fail);
  req.end();
} else {
  const family = isIP(request.host);
  if (family === 0) {
    fail(new Error(`not an IP address: ${request.host}`));
  } else {
    const socket = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
    socket.on('error', fail);
    socket.on('message', (message, from) => finish({ ok: true, kind: 'udp', payload: message.toString(), from: { address: from.address, port: from.port } }));
    socket.bind({ port: request.sourcePort ?? 0, ...(request.localAddress ? { address: request.localAddress } : {}) }, () => {
      socket.connect(request.port, request.host, () => socket.send(request.payload));
    });
  }
}
