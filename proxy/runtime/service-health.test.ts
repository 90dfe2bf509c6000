import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { localStateOf, node, service, slice, type EndpointOpts } from '../model/testing.ts';
import { memoryLogger } from './log.ts';
import { ServiceHealthServers, nodePortBindAddresses, parseNodePortAddresses, serviceHealthTargets } from './service-health.ts';
import { freePort, get, stateOf, type SvcSpec } from './testing.ts';

/** A LoadBalancer Service; `other` gives it frontends of its own (two Services never share an IP:port or a NodePort). */
function lb(name: string, hcPort: number, endpoints: Array<string | EndpointOpts>, o: { etp?: 'Local' | 'Cluster'; clusterIPs?: string[]; other?: boolean } = {}): SvcSpec {
  const n = o.other ? 1 : 0;
  return {
    name,
    opts: {
      type: 'LoadBalancer',
      clusterIPs: o.clusterIPs ?? ['10.96.0.80'],
      etp: o.etp ?? 'Local',
      healthCheckNodePort: hcPort,
      ports: [
        { name: 'http', port: 80, nodePort: 30080 + n },
        { name: 'https', port: 443, nodePort: 30443 + n },
      ],
      lbIngress: [{ ip: `192.0.2.${80 + n}` }],
    },
    endpoints,
    slicePorts: [
      { name: 'http', port: 8080 },
      { name: 'https', port: 8443 },
    ],
  };
}

const local = (ip: string, more: Partial<EndpointOpts> = {}): EndpointOpts => ({ ip, node: 'node-a', ...more });

describe('serviceHealthTargets', () => {
  it('counts ready local endpoints once per address across ports; terminating and remote ones do not count', () => {
    const state = stateOf([
      lb('web', 32000, [local('10.0.0.1'), local('10.0.0.2'), local('10.0.0.3', { ready: false, serving: true, terminating: true }), { ip: '10.0.9.9', node: 'node-b' }]),
      lb('cluster-policy', 32001, [local('10.0.1.1')], { etp: 'Cluster', clusterIPs: ['10.96.0.81'], other: true }),
    ]);
    expect([...serviceHealthTargets(state).values()]).toEqual([{ serviceKey: 'default/web', namespace: 'default', name: 'web', port: 32000, localEndpoints: 2 }]);
  });

  it('counts a dual-stack pod once (the larger family count)', () => {
    const ports = [{ name: 'http', port: 8080 }];
    const svc = service('web', { type: 'LoadBalancer', clusterIPs: ['10.96.0.80', 'fd00::80'], etp: 'Local', healthCheckNodePort: 32000, ports: [{ name: 'http', port: 80, nodePort: 30080 }] });
    const state = localStateOf([
      node('node-a'),
      svc,
      slice('web-v4', 'web', [local('10.0.0.1'), local('10.0.0.2')], { ports }),
      slice('web-v6', 'web', [local('fd00::1')], { ports, addressType: 'IPv6' }),
    ]);
    expect(serviceHealthTargets(state).get('default/web')!.localEndpoints).toBe(2);
  });
});

describe('--nodeport-addresses', () => {
  const node = { name: 'node-a', labels: {}, known: true, deleting: false, toBeDeleted: false, addresses: [{ type: 'InternalIP', address: '10.1.0.5' }, { type: 'InternalIP', address: '10.1.0.6' }, { type: 'InternalIP', address: 'fd00::5' }] };
  const host = () => ['127.0.0.1', '10.1.0.5', '10.1.0.6', '192.168.1.9', 'fd00::5'];

  it('binds every address when empty or holding a zero CIDR', () => {
    expect(nodePortBindAddresses(parseNodePortAddresses([]), node, host)).toBeUndefined();
    expect(nodePortBindAddresses(parseNodePortAddresses(['0.0.0.0/0']), node, host)).toBeUndefined();
  });

  it('binds the host addresses inside the CIDRs, and the primary IP of each family', () => {
    expect(nodePortBindAddresses(parseNodePortAddresses(['192.168.0.0/16', '127.0.0.1/32']), node, host)).toEqual(['127.0.0.1', '192.168.1.9']);
    expect(nodePortBindAddresses(parseNodePortAddresses(['primary']), node, host)).toEqual(['10.1.0.5', 'fd00::5']);
  });

  it('rejects anything else with KPNG_ERR_BAD_NODEPORT_ADDRESSES, naming what is accepted', () => {
    expect(() => parseNodePortAddresses(['10.0.0.1'])).toThrow(/KPNG_ERR_BAD_NODEPORT_ADDRESSES: --nodeport-addresses="10.0.0.1": accepted: CIDRs/);
  });
});

describe('healthCheckNodePort servers', () => {
  let servers: ServiceHealthServers | undefined;
  afterEach(async () => {
    await servers?.close();
    servers = undefined;
  });

  function make(healthy: { value: boolean }) {
    const logger = memoryLogger();
    servers = new ServiceHealthServers({
      logger,
      health: { isHealthy: () => healthy.value },
      nodePortAddresses: parseNodePortAddresses(['127.0.0.0/8']),
      hostAddresses: () => ['127.0.0.1'],
    });
    return { servers, logger };
  }

  it('answers 200 with the endpoint weight while the Service has local endpoints and the proxy is healthy, else 503', async () => {
    const healthy = { value: true };
    const { servers } = make(healthy);
    const port = await freePort();
    await servers.update(stateOf([lb('web', port, [local('10.0.0.1'), local('10.0.0.2')])]));
    expect(servers.listening()).toEqual([{ service: 'default/web', port, address: `127.0.0.1:${port}` }]);

    let res = await get(`http://127.0.0.1:${port}/`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-load-balancing-endpoint-weight']).toBe('2');
    expect(JSON.parse(res.body)).toEqual({ service: { namespace: 'default', name: 'web' }, localEndpoints: 2, serviceProxyHealthy: true });
    expect(res.body).toBe('{\n\t"service": {\n\t\t"namespace": "default",\n\t\t"name": "web"\n\t},\n\t"localEndpoints": 2,\n\t"serviceProxyHealthy": true\n}');

    healthy.value = false;
    res = await get(`http://127.0.0.1:${port}/anything`);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toMatchObject({ localEndpoints: 2, serviceProxyHealthy: false });
    healthy.value = true;

    await servers.update(stateOf([lb('web', port, [{ ip: '10.0.9.9', node: 'node-b' }])]));
    res = await get(`http://127.0.0.1:${port}/`);
    expect(res.status).toBe(503);
    expect(res.headers['x-load-balancing-endpoint-weight']).toBe('0');
    expect(JSON.parse(res.body)).toMatchObject({ localEndpoints: 0, serviceProxyHealthy: true });
  });

  it('starts and stops servers as Services come, go and move port', async () => {
    const { servers } = make({ value: true });
    const [p1, p2] = [await freePort(), await freePort()];
    await servers.update(stateOf([lb('web', p1, [local('10.0.0.1')])]));
    expect((await get(`http://127.0.0.1:${p1}/`)).status).toBe(200);
    await servers.update(stateOf([lb('web', p2, [local('10.0.0.1')])]));
    await expect(get(`http://127.0.0.1:${p1}/`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect((await get(`http://127.0.0.1:${p2}/`)).status).toBe(200);
    await servers.update(stateOf([]));
    expect(servers.listening()).toEqual([]);
    await expect(get(`http://127.0.0.1:${p2}/`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('logs a port it cannot bind and serves the others', async () => {
    const { servers, logger } = make({ value: true });
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const busy = (taken.address() as { port: number }).port;
    const free = await freePort();
    try {
      await servers.update(stateOf([lb('busy', busy, [local('10.0.0.1')]), { ...lb('ok', free, [local('10.0.0.2')], { clusterIPs: ['10.96.0.81'], other: true }) }]));
      expect(logger.lines.some((l) => l.level === 'error' && l.fields.service === 'default/busy' && /KPNG_ERR_LISTEN/.test(String(l.fields.err)))).toBe(true);
      expect((await get(`http://127.0.0.1:${free}/`)).status).toBe(200);
    } finally {
      taken.close();
    }
  });
});
