import { describe, expect, it } from 'vitest';
import { batchLine, decodeEndpointKey, decodeServiceValue, endpointKey, endpointValue, hex, serviceKey, serviceValue, unhex } from './maps.ts';

describe('map encoding (bpf/sock_lb.c layouts)', () => {
  it('a service key holds the address and port in network order and the IP protocol', () => {
    expect(hex(serviceKey('10.96.0.10', 'IPv4', 80, 'TCP'))).toBe('0a 60 00 0a 00 50 06 00');
    expect(hex(serviceKey('10.96.0.10', 'IPv4', 53, 'UDP'))).toBe('0a 60 00 0a 00 35 11 00');
    expect(hex(serviceKey('fd00::1', 'IPv6', 443, 'SCTP'))).toBe('fd 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 01 bb 84 00');
  });
  it('a service value holds id, count and affinity timeout as little-endian u32', () => {
    const v = serviceValue(258, 3, 10800);
    expect(hex(v)).toBe('02 01 00 00 03 00 00 00 30 2a 00 00');
    expect(decodeServiceValue(v)).toEqual({ id: 258, count: 3, affinityTimeoutSeconds: 10800 });
  });
  it('an endpoint key is (id, slot); its value the address in 16 bytes and the port in network order', () => {
    expect(decodeEndpointKey(endpointKey(7, 65536))).toEqual({ id: 7, slot: 65536 });
    expect(hex(endpointValue('10.99.0.2', 'IPv4', 8080))).toBe('0a 63 00 02 ' + '00 '.repeat(12) + '1f 90 00 00');
    expect(hex(endpointValue('fd00::2', 'IPv6', 1))).toBe('fd 00 ' + '00 '.repeat(13) + '02 00 01 00 00');
  });
  it('reads bpftool dump bytes back', () => {
    expect(hex(unhex(['0x0a', '0x60', '0xff']))).toBe('0a 60 ff');
  });
  it('refuses addresses of the wrong family and ports out of range, naming what is accepted', () => {
    expect(() => serviceKey('fd00::1', 'IPv4', 80, 'TCP')).toThrow(/^KPNG_ERR_EBPF_ADDRESS: .*accepted/);
    expect(() => endpointValue('10.0.0.1', 'IPv4', 0)).toThrow(/^KPNG_ERR_EBPF_PORT: .*accepted: an integer 1-65535/);
  });
  it('writes bpftool batch lines for the pinned maps', () => {
    expect(batchLine({ op: 'update', map: 'kpng_be', key: '01', value: '02' }, '/sys/fs/bpf/kpng/maps')).toBe('map update pinned /sys/fs/bpf/kpng/maps/kpng_be key hex 01 value hex 02');
    expect(batchLine({ op: 'delete', map: 'kpng_svc4', key: '01' }, '/p')).toBe('map delete pinned /p/kpng_svc4 key hex 01');
    expect(() => batchLine({ op: 'delete', map: 'kpng_svc4', key: '01' }, '/a b')).toThrow(/^KPNG_ERR_EBPF_PIN_PATH/);
  });
});
