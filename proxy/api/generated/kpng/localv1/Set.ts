// Original file: proxy/api/localv1.proto

export const Set = {
  /**
   * One entry per service port the node handles. path: the service port's name as
   * kube-proxy writes it, "namespace/name:port" ("namespace/name" for a Service's single
   * unnamed port). bytes: a Service with exactly one PortMapping, the port in question.
   */
  SERVICE_PORTS: 'SERVICE_PORTS',
  /**
   * One entry: the node itself. path: the node name. bytes: a Node.
   */
  NODE: 'NODE',
  /**
   * One entry per endpoint a service port may use on this node. path:
   * "<service port path>/<ip>/<port>", e.g. "shop/web:http/10.244.1.2/8080" or
   * "shop/web:http/fd00:244:1::2/8080". bytes: an Endpoint. Every endpoint belongs to an
   * entry of SERVICE_PORTS: a change set that deletes a service port deletes each of its
   * endpoints too, and at Sync no endpoint is left without its service port.
   */
  ENDPOINTS: 'ENDPOINTS',
} as const;

export type Set =
  /**
   * One entry per service port the node handles. path: the service port's name as
   * kube-proxy writes it, "namespace/name:port" ("namespace/name" for a Service's single
   * unnamed port). bytes: a Service with exactly one PortMapping, the port in question.
   */
  | 'SERVICE_PORTS'
  | 0
  /**
   * One entry: the node itself. path: the node name. bytes: a Node.
   */
  | 'NODE'
  | 1
  /**
   * One entry per endpoint a service port may use on this node. path:
   * "<service port path>/<ip>/<port>", e.g. "shop/web:http/10.244.1.2/8080" or
   * "shop/web:http/fd00:244:1::2/8080". bytes: an Endpoint. Every endpoint belongs to an
   * entry of SERVICE_PORTS: a change set that deletes a service port deletes each of its
   * endpoints too, and at Sync no endpoint is left without its service port.
   */
  | 'ENDPOINTS'
  | 2

export type Set__Output = typeof Set[keyof typeof Set]
