import { describe, expect, it } from 'vitest';
import { nodeView } from '../../model/index.ts';
import { Ruleset } from '../iptables/rules.ts';
import { renderFamily } from './render.ts';
import { parseIpsetTerse, setsTampered, tamperCheckInput } from './tamper.ts';
import { fixtureOptions, fixtureState } from './testing.ts';

describe('tamperCheckInput', () => {
  const written = renderFamily(nodeView(fixtureState()), fixtureOptions('IPv4')).iptables.replace(/^-I .*\n/gm, '');
  const input = tamperCheckInput(written);

  it('checks the jump rules and every rule written, and declares no chain (a declaration would flush it)', () => {
    expect(input).not.toMatch(/^(:|-[AIDFX] )/m);
    expect(input.split('\n').filter((l) => l.startsWith('-C ')).length).toBe(written.split('\n').filter((l) => l.startsWith('-A ')).length + 9);
    expect(input).toMatch(/^-C PREROUTING .*-j KUBE-SERVICES$/m);
  });

  it('passes on the rules as written, fails naming a rule that is gone', () => {
    const rs = new Ruleset().apply(renderFamily(nodeView(fixtureState()), fixtureOptions('IPv4')).iptables);
    expect(() => rs.clone().apply(input)).not.toThrow();
    rs.apply('*nat\n-F KUBE-POSTROUTING\nCOMMIT\n');
    expect(() => rs.apply(input)).toThrow();
  });
});

describe('ipset list -t', () => {
  const text = [
    'Name: KUBE-CLUSTER-IP',
    'Type: hash:ip,port',
    'Revision: 7',
    'Header: family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x47011169',
    'Size in memory: 264',
    'References: 2',
    'Number of entries: 3',
    '',
    'Name: KUBE-NODE-PORT-TCP',
    'Type: bitmap:port',
    'Number of entries: 0',
    '',
  ].join('\n');

  it('entries per set; a set missing or holding another count is named', () => {
    const have = parseIpsetTerse(text);
    expect(have).toEqual(new Map([['KUBE-CLUSTER-IP', 3], ['KUBE-NODE-PORT-TCP', 0]]));
    expect(setsTampered(have, new Map([['KUBE-CLUSTER-IP', 3], ['KUBE-NODE-PORT-TCP', 0]]))).toBeUndefined();
    expect(setsTampered(have, new Map([['KUBE-CLUSTER-IP', 4]]))).toBe('ipset KUBE-CLUSTER-IP holds 3 members, the last sync left 4');
    expect(setsTampered(have, new Map([['KUBE-LOAD-BALANCER', 0]]))).toBe('ipset KUBE-LOAD-BALANCER gone');
  });
});
