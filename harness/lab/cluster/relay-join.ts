// Joining two sockets both ways, shared by both ends of the API relay. Small: the
// namespace end loads it at every start.
import type { Socket } from 'node:net';

export interface RelayProgramConfig {
  listen: { host: string; port: number }[];
  /** The unix socket the host end serves. */
  socket: string;
}

/** Pipes a and b into each other; an error or close on either side ends both. */
export function joinSockets(a: Socket, b: Socket): void {
  const end = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', end).on('close', end);
  b.on('error', end).on('close', end);
  a.pipe(b);
  b.pipe(a);
}
