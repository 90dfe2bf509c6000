import { describe, expect, it } from 'vitest';
import { failureOf, parseEcho, parseOutcome, urlFor } from './probe-protocol.ts';

describe('probe protocol', () => {
  it('reads socket errors as refused, unreachable, timeout, reset or error', () => {
    expect(failureOf('ECONNREFUSED')).toBe('refused');
    expect(failureOf('EHOSTUNREACH')).toBe('unreachable');
    expect(failureOf('ENETUNREACH')).toBe('unreachable');
    expect(failureOf('ETIMEDOUT')).toBe('timeout');
    expect(failureOf('ECONNRESET')).toBe('reset');
    expect(failureOf('EINVAL')).toBe('error');
    expect(failureOf(undefined)).toBe('error');
  });

  it('parses echo replies and rejects anything else', () => {
    expect(parseEcho('{"pod":"pod-b","client":"10.244.1.2","clientPort":40000}')).toEqual({ pod: 'pod-b', client: '10.244.1.2', clientPort: 40000 });
    expect(() => parseEcho('ok')).toThrow(/not an echo reply/);
    expect(() => parseEcho('{"pod":"pod-b"}')).toThrow(/not an echo reply/);
  });

  it('takes the last line a probe printed as its outcome', () => {
    expect(parseOutcome('noise\n{"ok":false,"failure":"timeout","message":"m","elapsedMs":500}\n')).toMatchObject({ ok: false, failure: 'timeout' });
    expect(() => parseOutcome('')).toThrow(/no outcome/);
    expect(() => parseOutcome('{"ok":true}')).toThrow(/no outcome/);
  });

  it('brackets IPv6 hosts in URLs', () => {
    expect(urlFor('10.0.0.1', 80)).toBe('http://10.0.0.1:80/');
    expect(urlFor('fd00::1', 8080, 'healthz')).toBe('http://[fd00::1]:8080/healthz');
  });
});
