import { describe, expect, it } from 'vitest';
import { PlanIndex, noneTouched } from './plan-index.ts';
import { sumPlans, type PortPlan } from './plan.ts';

const port = (key: string, address: string, real: string, extra: Partial<PortPlan> = {}): PortPlan => ({
  key,
  virtualServers: [{ protocol: 'TCP', address, port: 80, scheduler: 'rr', reals: new Map([[`${real}:80`, { address: real, port: 80, weight: 1 }]]) }],
  members: [['KUBE-CLUSTER-IP', `${address},tcp:80`]],
  bind: [address],
  noNodeAccess: [],
  ...extra,
});

/** What the index holds, in sumPlans' terms. */
function asSum(index: PlanIndex, keys: string[]) {
  const plan = sumPlans('IPv4', []).plan;
  for (const k of keys) {
    const vs = index.virtualServer(k);
    if (vs) plan.virtualServers.set(k, vs);
  }
  return plan.virtualServers;
}

describe('PlanIndex', () => {
  it('a virtual server two ports ask for is the first one’s by key, as sumPlans decides; the other’s once the first goes', () => {
    const a = port('ns1/a:p', '192.168.99.33', '10.0.0.1');
    const b = port('ns2/b:p', '192.168.99.33', '10.0.0.2');
    const index = new PlanIndex('IPv4', [b, a]);
    const k = 'TCP/192.168.99.33:80';
    expect(index.virtualServer(k)).toBe(sumPlans('IPv4', [b, a]).plan.virtualServers.get(k));
    expect([...index.virtualServer(k)!.reals.keys()]).toEqual(['10.0.0.1:80']);
    const touched = noneTouched();
    index.set(a.key, undefined, touched);
    expect([...touched.virtualServers]).toEqual([k]);
    expect(asSum(index, [k])).toEqual(sumPlans('IPv4', [b]).plan.virtualServers);
  });

  it('a set member and an address stay while some port asks for them; touched says what each was before', () => {
    const a = port('ns1/a:p', '192.168.99.33', '10.0.0.1');
    const b = port('ns2/b:p', '192.168.99.33', '10.0.0.2');
    const index = new PlanIndex('IPv4', [a, b]);
    let touched = noneTouched();
    index.set(a.key, undefined, touched);
    expect(index.has('KUBE-CLUSTER-IP', '192.168.99.33,tcp:80')).toBe(true);
    expect(index.has('KUBE-IPVS-IPS', '192.168.99.33')).toBe(true);
    expect(index.isBound('192.168.99.33')).toBe(true);
    expect(touched.addresses.get('192.168.99.33')).toBe(true);
    touched = noneTouched();
    index.set(b.key, undefined, touched);
    expect(index.isBound('192.168.99.33')).toBe(false);
    expect(index.members('KUBE-CLUSTER-IP')).toBe(0);
    expect(touched.members.get('KUBE-CLUSTER-IP')).toEqual(new Map([['192.168.99.33,tcp:80', true]]));
    expect(index.size).toBe(0);
  });

  it('lists the load balancer IPs the node may not reach in key order', () => {
    const x = { ip: '5.6.7.8', protocol: 'tcp', port: 80 };
    const y = { ip: '9.9.9.9', protocol: 'tcp', port: 80 };
    const index = new PlanIndex('IPv4', [port('b', '1.1.1.1', '10.0.0.1', { noNodeAccess: [y] }), port('a', '1.1.1.2', '10.0.0.2', { noNodeAccess: [x] })]);
    expect(index.noNodeAccess()).toEqual([x, y]);
    index.set('a', port('a', '1.1.1.2', '10.0.0.2'), noneTouched());
    expect(index.noNodeAccess()).toEqual([y]);
  });
});
