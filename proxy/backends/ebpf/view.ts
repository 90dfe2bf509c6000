// A service port as the eBPF backend sees it in one IP family: the shared per-family view
// (frontends, endpoint sets, policies) plus which endpoints each kind of traffic reaches.
// Only this function knows where the view comes from, so moving to another per-family
// view that keeps these field names is a change here alone.
import type { IPFamily, LocalEndpoint, ServicePortState } from '../../model/index.ts';
import { familyPort, type FamilyPort } from '../common/index.ts';

export interface EbpfPortView extends FamilyPort {
  /** Endpoints traffic to the cluster IP reaches (internalTrafficPolicy applied). */
  internalTrafficEndpoints: LocalEndpoint[];
  /** Endpoints traffic from other hosts to a NodePort, external IP or LB IP reaches (externalTrafficPolicy applied). */
  externalTrafficEndpoints: LocalEndpoint[];
}

export function ebpfView(sp: ServicePortState, family: IPFamily): EbpfPortView | undefined {
  const fp = familyPort(sp, family);
  if (!fp) return undefined;
  return {
    ...fp,
    internalTrafficEndpoints: sp.internalPolicyLocal ? fp.localEndpoints : fp.clusterEndpoints,
    externalTrafficEndpoints: !fp.externallyAccessible ? [] : sp.externalPolicyLocal ? fp.localEndpoints : fp.clusterEndpoints,
  };
}
