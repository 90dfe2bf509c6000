// The lab conformance suite: specs that follow upstream sig-network e2e specs, run by
// `kpng-harness lab` against a docker-free lab (harness/lab). Each names the spec it
// follows; the order is the order they run in.
import type { LabSpec } from '../../harness/lab/suite/index.ts';
import * as affinity from './affinity.ts';
import * as conntrack from './conntrack.ts';
import * as dual from './dual-stack.ts';
import * as endpoints from './endpoints.ts';
import * as kubeProxy from './kube-proxy.ts';
import * as loadBalancer from './loadbalancer.ts';
import * as services from './services.ts';
import * as policy from './traffic-policy.ts';

export const labSpecs: readonly LabSpec[] = [
  services.basicEndpoint,
  services.multiport,
  services.nodePort,
  affinity.affinityClusterIP,
  affinity.affinityTimeoutClusterIP,
  affinity.affinitySwitchClusterIP,
  affinity.affinityNodePort,
  affinity.affinityTimeoutNodePort,
  affinity.affinitySwitchNodePort,
  policy.etpLocalLoadBalancer,
  policy.etpLocalFromPods,
  policy.etpLocalHealthCheck,
  policy.itpLocalPodToPod,
  policy.itpLocalHostToPod,
  services.rejectedWithoutEndpoints,
  services.hairpin,
  services.preserveSourcePodIP,
  endpoints.updateEndpointsHttp,
  endpoints.updateEndpointsUdp,
  services.recreated,
  services.externalIP,
  loadBalancer.loadBalancerSourceRanges,
  endpoints.fallbackTerminatingCluster,
  endpoints.fallbackLocalTerminating,
  endpoints.healthCheckTerminating,
  conntrack.udpClusterIPCycle,
  conntrack.udpNodePortCycle,
  services.serviceProxyName,
  services.headlessLabel,
  dual.dualPodServiceHttp,
  dual.dualPodServiceUdp,
  kubeProxy.kubeProxyUrls,
];

