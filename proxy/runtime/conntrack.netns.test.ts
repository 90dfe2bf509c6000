// The conntrack executor against a real kernel: in a namespace of its own, UDP datagrams
// go through DNAT rules standing in for Services, and the planned deletions must remove
// exactly the flows they name.
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsRunner } from '../exec.ts';
import { executeConntrackPlan, planConntrackCleanup } from './conntrack.ts';
import { stateOf, type SvcSpec } from './testing.ts';

const ns = `kpng-ct-${randomBytes(4).toString('hex')}`;
const inNs = (file: string, args: string[]) => execa('ip', ['netns', 'exec', ns, file, ...args]);
const runInNs = netnsRunner(ns);

/** Each client source port is DNAT'ed to one endpoint, so the test knows where every flow goes. */
const flows = [
  { sport: 40001, dst: '10.96.0.10', endpoint: '10.0.0.2' }, // dns → the endpoint that goes away
  { sport: 40002, dst: '10.96.0.10', endpoint: '10.0.0.3' }, // dns → the endpoint that stays
  { sport: 40003, dst: '10.96.0.11', endpoint: '10.0.0.2' }, // another Service, same endpoint IP
  { sport: 40004, dst: '10.96.0.20', endpoint: undefined }, // a Service without endpoints yet
];

function udpService(name: string, clusterIP: string, endpoints: string[]): SvcSpec {
  return { name, opts: { clusterIPs: [clusterIP], ports: [{ port: 53, protocol: 'UDP' }] }, endpoints, slicePorts: [{ port: 5353, protocol: 'UDP' }] };
}

/** "dst:sport->reply-src" of each UDP flow in the namespace. */
async function listFlows(): Promise<string[]> {
  const { stdout } = await inNs('conntrack', ['-L', '-p', 'udp']);
  return stdout
    .split('\n')
    .filter((l) => l.includes('dport=53'))
    .map((l) => {
      const src = [...l.matchAll(/src=(\S+)/g)].map((m) => m[1]);
      const dst = /dst=(\S+)/.exec(l)![1];
      const sport = /sport=(\d+)/.exec(l)![1];
      return `${dst}:${sport}->${src[1]}`;
    })
    .sort();
}

beforeAll(async () => {
  await execa('ip', ['netns', 'add', ns]);
  const script = [
    'ip link set lo up',
    'ip link add v0 type veth peer name v1',
    'ip link set v0 up',
    'ip link set v1 up',
    'ip addr add 10.0.0.1/24 dev v0',
    'ip route add default dev v0',
    ...flows
      .filter((f) => f.endpoint)
      .map((f) => `iptables -t nat -A OUTPUT -p udp -d ${f.dst} --dport 53 -m udp --sport ${f.sport} -j DNAT --to-destination ${f.endpoint}:5353`),
  ].join(' && ');
  await inNs('sh', ['-ec', script]);
  const send = `
    const dgram = require('node:dgram');
    const flows = ${JSON.stringify(flows)};
    (async () => {
      for (const f of flows) {
        const s = dgram.createSocket('udp4');
        await new Promise((r) => s.bind({ address: '10.0.0.1', port: f.sport }, r));
        await new Promise((r, j) => s.send('x', 53, f.dst, (e) => (e ? j(e) : r())));
        s.close();
      }
    })().catch((e) => { console.error(e); process.exit(1); });`;
  await inNs(process.execPath, ['-e', send]);
});

afterAll(async () => {
  await execa('ip', ['netns', 'del', ns], { reject: false });
});

describe('conntrack cleanup in a network namespace', () => {
  it('deletes exactly the planned flows: those DNAT\'ed to the removed endpoint, and those to a Service that got its first endpoint', async () => {
    expect(await listFlows()).toEqual(['10.96.0.10:40001->10.0.0.2', '10.96.0.10:40002->10.0.0.3', '10.96.0.11:40003->10.0.0.2', '10.96.0.20:40004->10.96.0.20']);

    const prev = stateOf([udpService('dns', '10.96.0.10', ['10.0.0.2', '10.0.0.3']), udpService('other', '10.96.0.11', ['10.0.0.2']), udpService('empty', '10.96.0.20', [])]);
    const next = stateOf([udpService('dns', '10.96.0.10', ['10.0.0.3']), udpService('other', '10.96.0.11', ['10.0.0.2']), udpService('empty', '10.96.0.20', ['10.0.0.4'])]);
    const plan = planConntrackCleanup(prev, next);
    expect(plan.map((f) => `${f.origDst}:${f.origPortDst}->${f.dstNat ?? '*'}`)).toEqual(['10.96.0.10:53->10.0.0.2', '10.96.0.20:53->*']);

    const result = await executeConntrackPlan(plan, { run: runInNs });
    expect(result).toEqual({ deleted: 2, errors: [] });
    expect(await listFlows()).toEqual(['10.96.0.10:40002->10.0.0.3', '10.96.0.11:40003->10.0.0.2']);

    // Again: nothing left to delete, and that is not an error.
    expect(await executeConntrackPlan(plan, { run: runInNs })).toEqual({ deleted: 0, errors: [] });
  });
});
