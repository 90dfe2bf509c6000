// Original file: proxy/api/localv1.proto


/**
 * Which traffic of the service port may go to this endpoint from this node. At least one
 * is true. Within each scope, endpoints are ordered IPv4 first, then by address, then by
 * port.
 */
export interface EndpointScopes {
  /**
   * Traffic to the cluster IPs (internalTrafficPolicy applied).
   */
  'internal'?: (boolean);
  /**
   * Traffic to the NodePort, external IPs and load-balancer IPs (externalTrafficPolicy
   * applied).
   */
  'external'?: (boolean);
  /**
   * The cluster-wide endpoints: the same as internal unless internalTrafficPolicy is
   * Local; with externalTrafficPolicy Local, external traffic from this node's pods and
   * the host itself goes here.
   */
  'cluster'?: (boolean);
}

/**
 * Which traffic of the service port may go to this endpoint from this node. At least one
 * is true. Within each scope, endpoints are ordered IPv4 first, then by address, then by
 * port.
 */
export interface EndpointScopes__Output {
  /**
   * Traffic to the cluster IPs (internalTrafficPolicy applied).
   */
  'internal': (boolean);
  /**
   * Traffic to the NodePort, external IPs and load-balancer IPs (externalTrafficPolicy
   * applied).
   */
  'external': (boolean);
  /**
   * The cluster-wide endpoints: the same as internal unless internalTrafficPolicy is
   * Local; with externalTrafficPolicy Local, external traffic from this node's pods and
   * the host itself goes here.
   */
  'cluster': (boolean);
}
