// The lab's probe client: makes real HTTP and UDP requests from the namespace it runs in.
// Run by the project's node inside a namespace, in one of two ways:
//   node probe-client.ts '{"kind":"http","url":"http://10.244.2.2:8080/","timeoutMs":2000}'
//     one request; prints one JSON ProbeOutcome line and exits.
//   node probe-client.ts --agent
//     prints {"ready":true}, then answers each JSON line {"id":N,"request":{...}} on its
//     standard input with {"id":N,"outcome":{...}}, requests running concurrently; exits
//     when its standard input ends.
// The UDP socket is connected, so an ICMP port unreachable comes back as ECONNREFUSED.

import dgram from 'node:dgram';
import http from 'node:http';
import { isIP } from 'node:net';
import { createInterface } from 'node:readline';
import { failureOf, type ProbeOutcome, type ProbeRequest } from './probe-protocol.ts';

type Unmeasured<T> = T extends unknown ? Omit<T, 'elapsedMs'> : never;

/** Response headers as single strings (repeated ones joined with ", "), names in lower case. */
function headersOf(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

function probe(request: ProbeRequest): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    const cleanups: (() => void)[] = [];
    let finished = false;
    const finish = (outcome: Unmeasured<ProbeOutcome>): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      for (const cleanup of cleanups) cleanup();
      resolve({ ...outcome, elapsedMs: Math.round(performance.now() - started) } as ProbeOutcome);
    };
    const fail = (error: unknown): void => {
      const errno = (error as NodeJS.ErrnoException).code;
      finish({ ok: false, failure: failureOf(errno), ...(errno ? { errno } : {}), message: String((error as Error).message ?? error) });
    };
    const timer = setTimeout(() => finish({ ok: false, failure: 'timeout', message: `no answer within ${request.timeoutMs} ms` }), request.timeoutMs);

    if (request.kind === 'http') {
      const req = http.request(
        request.url,
        { method: 'GET', agent: false, headers: { connection: 'close' }, ...(request.localAddress ? { localAddress: request.localAddress } : {}) },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => finish({ ok: true, kind: 'http', status: response.statusCode ?? 0, headers: headersOf(response.headers), body: Buffer.concat(chunks).toString() }));
          response.on('error', fail);
        },
      );
      req.on('error', fail);
      cleanups.push(() => req.destroy());
      req.end();
      return;
    }
    const family = isIP(request.host);
    if (family === 0) {
      fail(new Error(`not an IP address: ${request.host}`));
      return;
    }
    const socket = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
    cleanups.push(() => socket.close());
    socket.on('error', fail);
    socket.on('message', (message, from) => finish({ ok: true, kind: 'udp', payload: message.toString(), from: { address: from.address, port: from.port } }));
    socket.bind({ port: request.sourcePort ?? 0, ...(request.localAddress ? { address: request.localAddress } : {}) }, () => {
      // A refused connect (a socket hook refuses a service without endpoints) comes to the callback, not to 'error'.
      socket.connect(request.port, request.host, (...args: unknown[]) => (args[0] instanceof Error ? fail(args[0]) : socket.send(request.payload)));
    });
  });
}

if (process.argv[2] === '--agent') {
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const { id, request } = JSON.parse(line) as { id: number; request: ProbeRequest };
    void probe(request).then((outcome) => process.stdout.write(`${JSON.stringify({ id, outcome })}\n`));
  });
  lines.on('close', () => process.exit(0));
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
} else {
  const outcome = await probe(JSON.parse(process.argv[2] ?? '{}') as ProbeRequest);
  process.stdout.write(`${JSON.stringify(outcome)}\n`, () => process.exit(0));
}
