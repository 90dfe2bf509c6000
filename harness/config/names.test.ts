import { describe, expect, it } from 'vitest';
import { dns1123LabelProblem, dns1123SubdomainProblem, imageRefProblem } from './names.ts';
import { closest, didYouMean } from './suggest.ts';

describe('DNS-1123 names', () => {
  it.each(['kpng-system', 'kube-system', 'a', '0', 'a'.repeat(63)])('accepts the label %s', (name) => {
    expect(dns1123LabelProblem(name)).toBeUndefined();
  });

  it.each([
    ['tilt.dev', 'contains "." (a label has no dots)'],
    ['Kpng', 'upper-case'],
    ['-kpng', 'must start and end with a letter or digit'],
    ['kpng-', 'must start and end with a letter or digit'],
    ['kpng_system', 'contains "_"'],
    ['', 'is empty'],
    ['a'.repeat(64), 'at most 63'],
  ])('rejects the label %j: %s', (name, reason) => {
    expect(dns1123LabelProblem(name)).toContain(reason);
  });

  it('accepts dotted subdomains and rejects empty parts', () => {
    expect(dns1123SubdomainProblem('kpng.kubeconfig')).toBeUndefined();
    expect(dns1123SubdomainProblem('kpng..x')).toContain('dot-separated part is empty');
    expect(dns1123SubdomainProblem('Kpng')).toContain('upper-case');
  });
});

describe('image references', () => {
  it.each([
    'kpng',
    'kpng:dev',
    'localhost:5001/kpng:dev',
    'registry.example.com/team/kpng:v0.1.0',
    'ghcr.io/x/kpng@sha256:' + 'a'.repeat(64),
    'kpng:dev@sha256:' + '0'.repeat(64),
    '[::1]:5000/kpng:dev',
  ])('accepts %s', (ref) => {
    expect(imageRefProblem(ref)).toBeUndefined();
  });

  it.each([
    ['', 'empty'],
    ['kpng ', 'whitespace'],
    ['KPNG:dev', 'lower-case'],
    ['kpng:', 'not an image reference'],
    ['kpng@sha256:abc', 'not an image reference'],
    ['kpng@sha256:' + 'a'.repeat(40), '64 hex digits'],
    ['kpng:-bad', 'not an image reference'],
  ])('rejects %j (%s)', (ref, reason) => {
    expect(imageRefProblem(ref)).toContain(reason);
  });
});

describe('did you mean', () => {
  it('suggests close keys and values, nothing for unrelated input', () => {
    expect(closest('bakend', ['backend', 'namespace'])).toBe('backend');
    expect(closest('ip-family', ['ip_family'])).toBe('ip_family');
    expect(closest('nftables', ['iptables', 'nft', 'ipvs'])).toBe('nft');
    expect(closest('IPv4', ['ipv4', 'ipv6', 'dual'])).toBe('ipv4');
    expect(closest('zzz', ['backend', 'namespace'])).toBeUndefined();
    expect(didYouMean('zzz', ['backend'])).toBe('');
    expect(didYouMean('namespac', ['namespace'])).toBe(' (did you mean "namespace"?)');
  });
});
