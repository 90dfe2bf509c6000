import { describe, expect, it } from 'vitest';
import { nodeView } from '../../model/index.ts';
import { changesBetween } from '../../model/testing.ts';
import { planIptables, type RenderOptions } from './plan.ts';
import { Ruleset, scanSave } from './rules.ts';
import { clusterCIDRs, fixtureObjectsAfterEndpointChange, fixtureState } from './testing.ts';
import { writeRestoreInput } from './write.ts';

const base: RenderOptions = { family: 'IPv4', clusterCIDRs };
const before = fixtureState();
const after = fixtureState(fixtureObjectsAfterEndpointChange());

describe('planIptables', () => {
  it('a full sync plans every port of the family in key order, each with its own chains, and every jump rule', () => {
    const plan = planIptables(nodeView(before), base);
    const keys = [...nodeView(before).families.IPv4.servicePorts.keys()].sort();
    expect(plan.full).toBe(true);
    expect(plan.writeShared).toBe(true);
    expect(plan.ports.map((p) => p.key)).toEqual(keys);
    expect(plan.ports.every((p) => p.own !== undefined)).toBe(true);
    expect(plan.jumps.length).toBeGreaterThan(0);
    expect(plan.writtenServicePorts).toBe(keys.length);
  });

  it('a service port without endpoints gets no chains of its own, only a REJECT in the filter table', () => {
    const svc6 = planIptables(nodeView(before), base).ports.find((p) => p.key === 'ns6/svc6:p80')!;
    expect(svc6.own?.chains).toEqual([]);
    expect(svc6.record.dispatch.nat).toEqual([]);
    expect(svc6.record.dispatch.filter.every((r) => r.includes('-j REJECT'))).toBe(true);
  });

  it('a partial sync after an endpoint change plans that port alone, and leaves the shared chains', () => {
    const first = planIptables(nodeView(before), base);
    const changes = changesBetween(before, after);
    const plan = planIptables(nodeView(after), { ...base, partial: { changed: changes.families.IPv4.ports, previous: first.record } });
    expect(plan.full).toBe(false);
    expect(plan.writeShared).toBe(false);
    expect(plan.jumps).toEqual([]);
    expect(plan.ports.map((p) => p.key)).toEqual(['ns1/svc1:p80']);
    // Ports not written keep their record: the next partial sync builds on all of them.
    expect([...plan.record.servicePorts.keys()].sort()).toEqual([...first.record.servicePorts.keys()].sort());
  });

  it('a full sync against the kernel inserts only the jump rules it lacks and deletes stale service chains', () => {
    const kernel = new Ruleset().apply(writeRestoreInput(planIptables(nodeView(before), base)).text);
    // Plus a service chain nobody uses any more.
    kernel.apply('*nat\n:KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]\nCOMMIT\n');
    const saved = scanSave(kernel.save());
    const plan = planIptables(nodeView(before), { ...base, existing: saved });
    expect(plan.jumps).toEqual([]);
    expect(plan.deletedChains).toEqual(['KUBE-SVC-AAAAAAAAAAAAAAAA']);
  });
});

describe('writeRestoreInput', () => {
  it('writes one restore input per plan: declarations before rules, a table only when it has something', () => {
    const first = planIptables(nodeView(before), base);
    const changes = changesBetween(before, after);
    const partial = planIptables(nodeView(after), { ...base, partial: { changed: changes.families.IPv4.ports, previous: first.record } });
    const { text, lines } = writeRestoreInput(partial);
    expect(text.startsWith('*nat\n')).toBe(true); // nothing of the filter table changed
    expect(text).not.toContain('*mangle');
    expect(lines).toBe(text.split('\n').length - 1);
    const body = text.split('\n');
    const lastDecl = body.findLastIndex((l) => l.startsWith(':'));
    const firstRule = body.findIndex((l) => l.startsWith('-A '));
    expect(lastDecl).toBeLessThan(firstRule);
    // Nothing to do in IPv6 (the change was IPv4's): no input at all.
    const v6first = planIptables(nodeView(before), { ...base, family: 'IPv6' });
    const v6 = planIptables(nodeView(after), { ...base, family: 'IPv6', partial: { changed: changes.families.IPv6.ports, previous: v6first.record } });
    expect(writeRestoreInput(v6)).toEqual({ text: '', lines: 0 });
  });
});
