// The lab's echo server, run inside a namespace by the project's node:
//   node echo-server.ts '{"name":"pod-a","http":8080,"udp":5353,"families":["ipv4","ipv6"]}'
// HTTP GET /healthz → 200 "ok"; any other request → 200 with the JSON EchoReply
// {"pod","client","clientPort"}. Every UDP datagram → the same JSON, to its sender.
// Prints {"listening":true} once every socket is bound. Exits when its standard input
// ends (its parent is gone) or on SIGTERM/SIGINT.

import dgram from 'node:dgram';
import http from 'node:http';
import { announceAndServe } from './child-program.ts';
import { unmapIpv4 } from './ip.ts';
import type { EchoReply, EchoServerConfig } from './probe-protocol.ts';

const config = JSON.parse(process.argv[2] ?? '{}') as EchoServerConfig;

function reply(address: string | undefined, port: number | undefined): string {
  const echo: EchoReply = { pod: config.name, client: unmapIpv4(address ?? ''), clientPort: port ?? 0 };
  return JSON.stringify(echo);
}

function handle(request: http.IncomingMessage, response: http.ServerResponse): void {
  request.resume();
  if (request.url === '/healthz') {
    response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  const body = reply(request.socket.remoteAddress, request.socket.remotePort);
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

function listenHttp(family: 'ipv4' | 'ipv6', port: number): Promise<void> {
  const server = http.createServer(handle);
  server.keepAliveTimeout = 1_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: family === 'ipv4' ? '0.0.0.0' : '::', port, ipv6Only: family === 'ipv6' }, () => resolve());
  });
}

function listenUdp(family: 'ipv4' | 'ipv6', port: number): Promise<void> {
  const socket = dgram.createSocket({ type: family === 'ipv4' ? 'udp4' : 'udp6', ipv6Only: family === 'ipv6' });
  socket.on('message', (_message, from) => {
    socket.send(reply(from.address, from.port), from.port, from.address);
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, address: family === 'ipv4' ? '0.0.0.0' : '::' }, () => {
      socket.off('error', reject);
      socket.on('error', (error) => process.stderr.write(`udp ${family}: ${String(error)}\n`));
      resolve();
    });
  });
}

const listening: Promise<void>[] = [];
for (const family of config.families) {
  if (config.http !== undefined) listening.push(listenHttp(family, config.http));
  if (config.udp !== undefined) listening.push(listenUdp(family, config.udp));
}
await announceAndServe(Promise.all(listening));
