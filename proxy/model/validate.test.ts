import { describe, expect, it } from 'vitest';
import { dns1035Label, dns1123Label, dns1123Subdomain, ianaServiceName, labelValue, problem, qualifiedName, type Check } from './validate.ts';

const long = (n: number, c = 'a') => c.repeat(n);

// Valid and invalid examples per rule, from Kubernetes' own validation tests where they exist.
const cases: Array<{ name: string; check: Check; valid: string[]; invalid: string[] }> = [
  {
    name: 'DNS-1123 label',
    check: dns1123Label,
    valid: ['a', '0', 'ns1', 'kube-system', '1-2-3', long(63)],
    invalid: ['', 'A', 'a_b', 'a.b', '-a', 'a-', 'a b', long(64), 'x"\n-A INPUT -j DROP', 'ü'],
  },
  {
    name: 'DNS-1123 subdomain',
    check: dns1123Subdomain,
    valid: ['a', 'node-a', 'ip-10-0-0-1.ec2.internal', '0.1', `${long(63)}.${long(63)}.${long(63)}.${long(61)}`],
    invalid: ['', 'A', 'a..b', '.a', 'a.', 'a_b', 'a/b', `${long(63)}.${long(63)}.${long(63)}.${long(62)}`, 'a;b'],
  },
  {
    name: 'DNS-1035 label',
    check: dns1035Label,
    valid: ['a', 'svc1', 'my-service', long(63)],
    invalid: ['', '1svc', 'Svc', 'a-', 'a.b', long(64), 'web"'],
  },
  {
    name: 'IANA_SVC_NAME',
    check: ianaServiceName,
    valid: ['http', 'h2', 'dns-tcp', 'a1-b2', long(15)],
    invalid: ['', '80a-', '-http', 'http-', 'a--b', '123', long(16), 'HTTP', 'h_t'],
  },
  {
    name: 'qualified name (label key)',
    check: qualifiedName,
    valid: ['app', 'kubernetes.io/service-name', 'a.b-c_d', 'A', 'example.com/Name_1', `${long(253 - 4)}.com/${long(63)}`],
    invalid: ['', '/a', 'a/', 'a/b/c', 'Example.com/a', '-a', 'a-', long(64), 'a b', 'a"b'],
  },
  {
    name: 'label value',
    check: labelValue,
    valid: ['', 'a', 'zone-a', 'us-east-1a', 'A.b_c-d', long(63)],
    invalid: ['-a', 'a-', 'a b', 'a/b', long(64), 'x"y', 'a\nb'],
  },
];

describe.each(cases)('$name', ({ check, valid, invalid }) => {
  it.each(valid)('accepts %j', (s) => expect(check(s)).toBeUndefined());
  it.each(invalid)('rejects %j, saying what is accepted', (s) => expect(check(s)).toMatch(/^accepted: /));
});

describe('problem()', () => {
  it('quotes the text (newlines and quotes escaped) and says what is accepted', () => {
    expect(problem(dns1123Label, 'a"\nb')).toBe('"a\\"\\nb" is not valid (accepted: a DNS-1123 label (at most 63 characters: a-z, 0-9 and "-", starting and ending with a letter or digit))');
    expect(problem(dns1123Label, 'ok')).toBeUndefined();
  });

  it('cuts a long text to 80 characters', () => {
    expect(problem(dns1123Label, long(500, 'X'))!.length).toBeLessThan(300);
  });
});
