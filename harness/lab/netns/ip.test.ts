import { describe, expect, it } from 'vitest';
import { contains, familyOf, formatCidr, formatIp, nthAddress, parseCidr, parseIp, subnet, unmapIpv4 } from './ip.ts';

describe('ip', () => {
  it('writes IPv6 in the canonical compressed form (RFC 5952)', () => {
    const roundTrip = (text: string) => formatIp('ipv6', parseIp(text).value);
    expect(roundTrip('fd00:0099:0000:0000:0000:0000:0000:0011')).toBe('fd00:99::11');
    expect(roundTrip('::')).toBe('::');
    expect(roundTrip('::1')).toBe('::1');
    expect(roundTrip('fd00::')).toBe('fd00::');
    // One zero group stays; the longest run (the first on a tie) is the one compressed.
    expect(roundTrip('1:0:2:3:4:5:6:7')).toBe('1:0:2:3:4:5:6:7');
    expect(roundTrip('1:0:0:2:0:0:0:3')).toBe('1:0:0:2::3');
    expect(roundTrip('1:0:0:2:0:0:3:4')).toBe('1::2:0:0:3:4');
    expect(roundTrip('::ffff:10.0.0.1')).toBe('::ffff:a00:1');
  });

  it('rejects what is not an address or a CIDR', () => {
    for (const bad of ['10.0.0', '10.0.0.256', '1::2::3', '1:2:3:4:5:6:7:8:9', 'fd00:g::1', '']) {
      expect(familyOf(bad), bad).toBeUndefined();
    }
    expect(() => parseCidr('10.0.0.1/24')).toThrow(/host bits/);
    expect(() => parseCidr('10.0.0.0/33')).toThrow(/prefix/);
    expect(() => parseCidr('10.0.0.0')).toThrow(/not a CIDR/);
  });

  it('counts addresses and subnets inside a range, and refuses to leave it', () => {
    const v4 = parseCidr('10.244.0.0/16');
    expect(formatCidr(subnet(v4, 24, 3))).toBe('10.244.3.0/24');
    expect(nthAddress(subnet(v4, 24, 3), 1)).toBe('10.244.3.1');
    expect(() => subnet(v4, 24, 256)).toThrow(/outside/);
    const v6 = parseCidr('fd00:244::/48');
    expect(formatCidr(subnet(v6, 64, 0x12))).toBe('fd00:244:0:12::/64');
    expect(() => nthAddress(parseCidr('10.0.0.0/30'), 4)).toThrow(/outside/);
    expect(contains(parseCidr('fd00:244:0:12::/64'), 'fd00:244:0:12::2')).toBe(true);
    expect(contains(parseCidr('10.244.3.0/24'), '10.244.4.1')).toBe(false);
    expect(contains(parseCidr('10.244.3.0/24'), 'fd00::1')).toBe(false);
  });

  it('reads an IPv4-mapped IPv6 source as the IPv4 address it is', () => {
    expect(unmapIpv4('::ffff:10.244.1.2')).toBe('10.244.1.2');
    expect(unmapIpv4('fd00::1')).toBe('fd00::1');
  });
});
