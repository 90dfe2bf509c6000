// The two endpoint sets a userspace proxy balances over, from a service port's per-family
// view: traffic to the cluster IP (internalTrafficPolicy applied) and traffic to the
// NodePort, ExternalIPs and LoadBalancer IPs (externalTrafficPolicy applied). Only the
// FamilyPort's fields are read (as the iptables and nftables renderers read them: one
// local set serves whichever policy is Local), so this stays one small function when the
// model hands these sets over itself.
import type { LocalEndpoint } from '../../model/index.ts';
import type { FamilyPort } from '../common/index.ts';

export interface TrafficSets {
  internalTrafficEndpoints: LocalEndpoint[];
  externalTrafficEndpoints: LocalEndpoint[];
}

export function trafficSets(fp: FamilyPort): TrafficSets {
  return {
    internalTrafficEndpoints: fp.sp.internalPolicyLocal ? fp.localEndpoints : fp.clusterEndpoints,
    externalTrafficEndpoints: !fp.externallyAccessible ? [] : fp.sp.externalPolicyLocal ? fp.localEndpoints : fp.clusterEndpoints,
  };
}
