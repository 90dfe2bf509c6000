import { describe, expect, it } from 'vitest';
import {
  endpointString,
  isServiceChainName,
  portProtoHash,
  serviceExternalChainName,
  serviceFirewallChainName,
  servicePortEndpointChainName,
  servicePortPolicyClusterChain,
  servicePortPolicyLocalChainName,
} from './names.ts';

describe('kube-proxy chain names', () => {
  // Chain names as kube-proxy writes them on real clusters and in its own tests
  // (pkg/proxy/iptables/proxier_test.go).
  it.each([
    ['default/kubernetes:https', 'TCP', 'KUBE-SVC-NPX46M4PTMTKRN6Y'],
    ['kube-system/kube-dns:dns', 'UDP', 'KUBE-SVC-TCOU7JCQXEZGVUNU'],
    ['kube-system/kube-dns:dns-tcp', 'TCP', 'KUBE-SVC-ERIFXISQEP7F7OF4'],
    ['kube-system/kube-dns:metrics', 'TCP', 'KUBE-SVC-JD5MR3NA4I4DYORP'],
    ['ns1/svc1:p80', 'TCP', 'KUBE-SVC-XPGD46QRK7WJZT7O'],
    ['ns2/svc2:p80', 'TCP', 'KUBE-SVC-GNZBNJ2PO5MGZ6GT'],
    ['ns5/svc5:p80', 'TCP', 'KUBE-SVC-NUKIZ6OKUXPJNT4C'],
  ])('%s %s → %s', (spn, proto, chain) => {
    expect(servicePortPolicyClusterChain(spn, proto)).toBe(chain);
  });

  it.each([
    ['ns1/svc1:p80', '10.180.0.1:80', 'KUBE-SEP-SXIVWICOYRO3J4NJ'],
    ['ns2/svc2:p80', '10.180.0.2:80', 'KUBE-SEP-RS4RBKLTHTF2IUXJ'],
    ['ns3/svc3:p80', '10.180.0.3:80', 'KUBE-SEP-OYPFS5VJICHGATKP'],
    ['ns4/svc4:p80', '10.180.0.4:80', 'KUBE-SEP-UKSFD7AGPMPPLUHC'],
    ['ns4/svc4:p80', '10.180.0.5:80', 'KUBE-SEP-C6EBXVWJJZMIWKLZ'],
    ['ns5/svc5:p80', '10.180.0.3:80', 'KUBE-SEP-I77PXRDZVX7PMWMN'],
  ])('endpoint %s %s → %s', (spn, ep, chain) => {
    expect(servicePortEndpointChainName(spn, 'TCP', ep)).toBe(chain);
  });

  it('SVC, SVL, EXT and FW share one hash; the protocol is part of it, lower case', () => {
    const h = portProtoHash('ns/svc:http', 'TCP');
    expect(servicePortPolicyLocalChainName('ns/svc:http', 'TCP')).toBe(`KUBE-SVL-${h}`);
    expect(serviceExternalChainName('ns/svc:http', 'TCP')).toBe(`KUBE-EXT-${h}`);
    expect(serviceFirewallChainName('ns/svc:http', 'TCP')).toBe(`KUBE-FW-${h}`);
    expect(portProtoHash('ns/svc:http', 'tcp')).toBe(h);
    expect(portProtoHash('ns/svc:http', 'UDP')).not.toBe(h);
    expect(h).toMatch(/^[A-Z2-7]{16}$/);
    // Every name fits iptables' 28-character limit.
    expect(servicePortEndpointChainName('a-very-long-namespace-name/a-very-long-service-name:port', 'SCTP', '[fd00:1234::1]:65535').length).toBeLessThanOrEqual(28);
  });

  it('endpoint strings are net.JoinHostPort', () => {
    expect(endpointString('10.0.0.1', 80)).toBe('10.0.0.1:80');
    expect(endpointString('fd00::1', 80)).toBe('[fd00::1]:80');
    expect(endpointString('fd00::1', 80, 'IPv6')).toBe('[fd00::1]:80');
  });

  it('recognises service chains by prefix', () => {
    for (const c of ['KUBE-SVC-X', 'KUBE-SVL-X', 'KUBE-EXT-X', 'KUBE-FW-X', 'KUBE-SEP-X']) expect(isServiceChainName(c)).toBe(true);
    for (const c of ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-MARK-MASQ', 'KUBE-XLB-X', 'FOO']) expect(isServiceChainName(c)).toBe(false);
  });
});
