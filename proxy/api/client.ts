// A client of the node-local API: a Sets stub over a unix socket or TCP (optionally TLS).
import { ApiError } from './errors.ts';
import { localv1, type SetsClient } from './proto.ts';
import { channelCredentials, grpcTarget, type ApiAddress, type TLSFiles } from './transport.ts';

export interface SetsClientOptions {
  tls?: TLSFiles;
  /** The name to verify the server certificate against, when it differs from the address's host. */
  serverName?: string;
  /** The channel's own reconnect backoff (defaults 250ms to 10s). */
  reconnectMs?: { initial: number; max: number };
  /** Ping the server this often while watching, and give up on it after the timeout (defaults 60s, 20s). */
  keepaliveMs?: number;
  keepaliveTimeoutMs?: number;
}

export async function createSetsClient(api: ApiAddress, opts: SetsClientOptions = {}): Promise<SetsClient> {
  const creds = await channelCredentials(api, opts.tls ?? {});
  if (opts.serverName !== undefined && !opts.tls?.ca && !opts.tls?.cert) {
    throw new ApiError('KPNG_ERR_API_TLS', '--tls-server-name needs TLS (accepted: together with --tls-ca, or --tls-cert and --tls-key)');
  }
  const Sets = localv1().Sets;
  return new Sets(grpcTarget(api), creds, {
    'grpc.initial_reconnect_backoff_ms': opts.reconnectMs?.initial ?? 250,
    'grpc.max_reconnect_backoff_ms': opts.reconnectMs?.max ?? 10_000,
    'grpc.keepalive_time_ms': opts.keepaliveMs ?? 60_000,
    'grpc.keepalive_timeout_ms': opts.keepaliveTimeoutMs ?? 20_000,
    ...(opts.serverName !== undefined && { 'grpc.ssl_target_name_override': opts.serverName, 'grpc.default_authority': opts.serverName }),
  });
}
