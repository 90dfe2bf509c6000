import { describe, expect, it } from 'vitest';
import { canonicalCIDR, canonicalIP, compareIPs, inCIDR, ipFamilyOf } from './ip.ts';

describe('IP addresses', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fd00:0:0:1::', 'fd00:0:0:1::'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6'],
  ])('%s is canonically %s', (text, canonical) => {
    expect(canonicalIP(text)).toBe(canonical);
  });

  it.each(['10.0.0', '10.0.0.256', '010.0.0.1', '10.0.0.01', '10.0.0.00', '1.2.3.4.', '.1.2.3', '1..2.3', '1.2.3.4.5', '1.2.3.2555', '1.2.3.-4', ' 1.2.3.4', '1.2.3.4 ', '１.2.3.4', '1::2::3', '2001:db8::g', 'fe80::1%eth0', '', 'None', '1:2:3:4:5:6:7:8:9'])('%s is not an IP', (text) => {
    expect(canonicalIP(text)).toBeUndefined();
  });

  it('knows the family', () => {
    expect(ipFamilyOf('10.0.0.1')).toBe('IPv4');
    expect(ipFamilyOf('fd00::1')).toBe('IPv6');
  });

  it('orders IPv4 before IPv6, numerically within a family', () => {
    expect(['fd00::2', '10.0.0.10', '10.0.0.9', 'fd00::1'].sort(compareIPs)).toEqual(['10.0.0.9', '10.0.0.10', 'fd00::1', 'fd00::2']);
    // Numerically over all 32 bits (addresses above 128.0.0.0 included), not as text.
    expect(['255.255.255.255', '200.0.0.1', '9.255.0.0', '128.0.0.0', '0.0.0.0', '127.255.255.255'].sort(compareIPs)).toEqual([
      '0.0.0.0',
      '9.255.0.0',
      '127.255.255.255',
      '128.0.0.0',
      '200.0.0.1',
      '255.255.255.255',
    ]);
    expect(compareIPs('10.0.0.1', '10.0.0.1')).toBe(0);
  });

  it('reads the edges of IPv4 as themselves', () => {
    for (const ip of ['0.0.0.0', '255.255.255.255', '1.22.133.4', '100.200.250.0']) {
      expect(canonicalIP(ip)).toBe(ip);
      expect(ipFamilyOf(ip)).toBe('IPv4');
    }
  });
});

describe('CIDRs', () => {
  it('masks host bits', () => {
    expect(canonicalCIDR('10.1.2.3/8')).toBe('10.0.0.0/8');
    expect(canonicalCIDR('fd00:1:2::5/48')).toBe('fd00:1:2::/48');
  });
  it.each(['10.0.0.0', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/-1', '10.0.0.0/08'])('%s is not a CIDR', (text) => {
    expect(canonicalCIDR(text)).toBeUndefined();
  });
  it('contains', () => {
    expect(inCIDR('10.244.0.0/16', '10.244.3.4')).toBe(true);
    expect(inCIDR('10.244.0.0/16', '10.245.0.1')).toBe(false);
    expect(inCIDR('fd00:244::/56', 'fd00:244:0:1::5')).toBe(true);
    expect(inCIDR('10.0.0.0/8', 'fd00::1')).toBe(false);
  });
});
