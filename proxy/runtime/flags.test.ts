import { describe, expect, it } from 'vitest';
import { runtimeConfig, runtimeFlags } from './flags.ts';
import { parseBindAddress } from './http.ts';

describe('runtime flags', () => {
  it("declares kube-proxy's flags with kube-proxy's defaults, except --min-sync-period=0", () => {
    expect(Object.fromEntries(runtimeFlags.map((f) => [f.name, [f.type, f.default]]))).toEqual({
      'healthz-bind-address': ['string', '0.0.0.0:10256'],
      'metrics-bind-address': ['string', '127.0.0.1:10249'],
      'sync-period': ['duration', 30_000],
      'min-sync-period': ['duration', 0],
      'nodeport-addresses': ['list', []],
    });
  });

  it('takes the defaults for absent values', () => {
    expect(runtimeConfig({})).toEqual({
      healthz: { host: '0.0.0.0', port: 10256 },
      metrics: { host: '127.0.0.1', port: 10249 },
      syncPeriodMs: 30_000,
      minSyncPeriodMs: 0,
      nodePortAddresses: { all: true, cidrs: [], primary: false },
    });
  });

  it('rejects a sync period of 0 and a bad --nodeport-addresses with their codes', () => {
    expect(() => runtimeConfig({ 'sync-period': 0 })).toThrow(/^KPNG_ERR_BAD_SYNC_PERIOD: --sync-period=0ms: accepted: a duration greater than 0/);
    expect(() => runtimeConfig({ 'nodeport-addresses': ['eth0'] })).toThrow(/^KPNG_ERR_BAD_NODEPORT_ADDRESSES/);
  });
});

describe('parseBindAddress', () => {
  it.each([
    ['0.0.0.0:10256', { host: '0.0.0.0', port: 10256 }],
    ['[::]:10256', { host: '::', port: 10256 }],
    ['127.0.0.1', { host: '127.0.0.1', port: 10249 }],
    ['::1', { host: '::1', port: 10249 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    ['', undefined],
  ])('%j → %j', (text, want) => {
    expect(parseBindAddress('metrics-bind-address', text, 10249)).toEqual(want);
  });

  it.each(['localhost:10249', '127.0.0.1:65536', '127.0.0.1:', ':10249', '[127.0.0.1]:80', '10.0.0.300:80'])('rejects %j, saying what is accepted', (text) => {
    expect(() => parseBindAddress('metrics-bind-address', text, 10249)).toThrow(
      `KPNG_ERR_BAD_BIND_ADDRESS: --metrics-bind-address=${JSON.stringify(text)}: accepted: IP:port (e.g. 0.0.0.0:10249 or [::]:10249), a bare IP (port 10249), or "" to disable`,
    );
  });
});
