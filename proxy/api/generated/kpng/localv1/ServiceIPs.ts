// Original file: proxy/api/localv1.proto


export interface ServiceIPs {
  'clusterIps'?: (string)[];
  'externalIps'?: (string)[];
  'loadBalancerIps'?: (string)[];
}

export interface ServiceIPs__Output {
  'clusterIps': (string)[];
  'externalIps': (string)[];
  'loadBalancerIps': (string)[];
}
