// What one IP family of the node must serve for each service port: its frontends (the
// cluster IP, each ExternalIP and LoadBalancer IP, the NodePort), which of the two
// endpoint sets each one balances over, and what happens to its traffic: redirected into
// the frontend's listening socket, dropped (a traffic policy leaves no endpoint here),
// or rejected (no endpoint anywhere). Pure: it reads the view's two endpoint sets
// (internalTrafficEndpoints, externalTrafficEndpoints: the traffic policies applied).
import type { FamilyServicePort, IPFamily, NodeView } from '../../model/index.ts';
import type { Target } from './round-robin.ts';

export type FrontendKind = 'cluster-ip' | 'external-ip' | 'load-balancer' | 'node-port';
export type TrafficClass = 'internal' | 'external';
export type Action = 'redirect' | 'drop' | 'reject';

export interface Frontend {
  /** Unique per service port, family, kind and address: its listener's identity. */
  key: string;
  servicePort: string;
  family: IPFamily;
  protocol: 'TCP' | 'UDP';
  kind: FrontendKind;
  /** The address (none for the NodePort: every local address it answers on). */
  ip?: string;
  port: number;
  traffic: TrafficClass;
  /** LoadBalancer IPs: the sources admitted (empty: all). */
  sourceRanges: string[];
  action: Action;
}

export interface PortPlan {
  servicePort: string;
  family: IPFamily;
  protocol: 'TCP' | 'UDP';
  affinityTimeoutMs: number | undefined;
  internal: Target[];
  external: Target[];
  frontends: Frontend[];
}

/** The pool a frontend's listener shares with the other frontends of its traffic class. */
export const poolKey = (servicePort: string, family: IPFamily, traffic: TrafficClass): string => `${servicePort}|${family}|${traffic}`;

/** The plan of one service port in its family; undefined when its protocol has no socket here (SCTP: the caller's to leave out). */
export function planPort(fp: FamilyServicePort): PortPlan | undefined {
  const { sp, family } = fp;
  if (sp.protocol !== 'TCP' && sp.protocol !== 'UDP') return undefined;
  const targets = (eps: FamilyServicePort['internalTrafficEndpoints']) => eps.map((e) => ({ address: e.address, port: e.port }));
  const internal = targets(fp.internalTrafficEndpoints);
  const external = targets(fp.externalTrafficEndpoints);
  const protocol = sp.protocol;
  const action = (traffic: TrafficClass): Action => ((traffic === 'internal' ? internal : external).length > 0 ? 'redirect' : fp.hasEndpoints ? 'drop' : 'reject');
  const frontend = (kind: FrontendKind, ip: string | undefined, port: number, traffic: TrafficClass, sourceRanges: string[] = []): Frontend => ({
    key: `${sp.key}|${protocol}|${family}|${kind}|${ip ?? ''}`,
    servicePort: sp.key,
    family,
    protocol,
    kind,
    ...(ip !== undefined && { ip }),
    port,
    traffic,
    sourceRanges,
    action: action(traffic),
  });
  const frontends = [
    frontend('cluster-ip', fp.clusterIP, sp.port, 'internal'),
    ...fp.externalIPs.map((ip) => frontend('external-ip', ip, sp.port, 'external')),
    ...fp.lbIPs.map((ip) => frontend('load-balancer', ip, sp.port, 'external', [...fp.sourceRanges])),
    ...(sp.nodePort !== 0 ? [frontend('node-port', undefined, sp.nodePort, 'external')] : []),
  ];
  return {
    servicePort: sp.key,
    family,
    protocol,
    affinityTimeoutMs: sp.affinityTimeoutSeconds !== undefined ? sp.affinityTimeoutSeconds * 1000 : undefined,
    internal,
    external,
    frontends,
  };
}

/** Service ports whose protocol has no socket here (SCTP): left out, named. */
export function unservable(view: NodeView): string[] {
  return [...view.state.servicePorts.values()].filter((sp) => sp.protocol !== 'TCP' && sp.protocol !== 'UDP').map((sp) => sp.key);
}
