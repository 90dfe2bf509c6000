// Original file: proxy/api/localv1.proto

import type { ServiceIPs as _kpng_localv1_ServiceIPs, ServiceIPs__Output as _kpng_localv1_ServiceIPs__Output } from '../../kpng/localv1/ServiceIPs.ts';
import type { IPFilters as _kpng_localv1_IPFilters, IPFilters__Output as _kpng_localv1_IPFilters__Output } from '../../kpng/localv1/IPFilters.ts';
import type { PortMapping as _kpng_localv1_PortMapping, PortMapping__Output as _kpng_localv1_PortMapping__Output } from '../../kpng/localv1/PortMapping.ts';
import type { SessionAffinity as _kpng_localv1_SessionAffinity, SessionAffinity__Output as _kpng_localv1_SessionAffinity__Output } from '../../kpng/localv1/SessionAffinity.ts';

/**
 * One service port as this node sees it. Lists hold only addresses and ranges of the
 * families the Service's cluster IPs serve.
 */
export interface Service {
  'namespace'?: (string);
  'name'?: (string);
  'ips'?: (_kpng_localv1_ServiceIPs | null);
  'ipFilters'?: (_kpng_localv1_IPFilters | null);
  /**
   * Exactly one: the service port this entry is for.
   */
  'ports'?: (_kpng_localv1_PortMapping)[];
  /**
   * externalTrafficPolicy is Local and the port is reachable from outside (a NodePort,
   * an external IP or a load-balancer IP).
   */
  'externalTrafficToLocal'?: (boolean);
  /**
   * internalTrafficPolicy is Local.
   */
  'internalTrafficToLocal'?: (boolean);
  /**
   * Set when sessionAffinity is ClientIP.
   */
  'sessionAffinity'?: (_kpng_localv1_SessionAffinity | null);
  /**
   * 0 when none (also when external_traffic_to_local is false).
   */
  'healthCheckNodePort'?: (number);
  /**
   * Per family the Service serves: whether any usable endpoint exists anywhere in the
   * cluster (false: reject traffic; true: the endpoints below may still be empty, e.g.
   * with a Local policy and no endpoint on this node, and then traffic is dropped).
   * Unset for a family the Service does not serve.
   */
  'hasIpv4Endpoints'?: (boolean);
  'hasIpv6Endpoints'?: (boolean);
  '_hasIpv4Endpoints'?: "hasIpv4Endpoints";
  '_hasIpv6Endpoints'?: "hasIpv6Endpoints";
}

/**
 * One service port as this node sees it. Lists hold only addresses and ranges of the
 * families the Service's cluster IPs serve.
 */
export interface Service__Output {
  'namespace': (string);
  'name': (string);
  'ips': (_kpng_localv1_ServiceIPs__Output | null);
  'ipFilters': (_kpng_localv1_IPFilters__Output | null);
  /**
   * Exactly one: the service port this entry is for.
   */
  'ports': (_kpng_localv1_PortMapping__Output)[];
  /**
   * externalTrafficPolicy is Local and the port is reachable from outside (a NodePort,
   * an external IP or a load-balancer IP).
   */
  'externalTrafficToLocal': (boolean);
  /**
   * internalTrafficPolicy is Local.
   */
  'internalTrafficToLocal': (boolean);
  /**
   * Set when sessionAffinity is ClientIP.
   */
  'sessionAffinity': (_kpng_localv1_SessionAffinity__Output | null);
  /**
   * 0 when none (also when external_traffic_to_local is false).
   */
  'healthCheckNodePort': (number);
  /**
   * Per family the Service serves: whether any usable endpoint exists anywhere in the
   * cluster (false: reject traffic; true: the endpoints below may still be empty, e.g.
   * with a Local policy and no endpoint on this node, and then traffic is dropped).
   * Unset for a family the Service does not serve.
   */
  'hasIpv4Endpoints'?: (boolean);
  'hasIpv6Endpoints'?: (boolean);
  '_hasIpv4Endpoints'?: "hasIpv4Endpoints";
  '_hasIpv6Endpoints'?: "hasIpv6Endpoints";
}
