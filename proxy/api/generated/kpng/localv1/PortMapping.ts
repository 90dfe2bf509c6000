// Original file: proxy/api/localv1.proto

import type { Protocol as _kpng_localv1_Protocol, Protocol__Output as _kpng_localv1_Protocol__Output } from '../../kpng/localv1/Protocol.ts';

export interface PortMapping {
  /**
   * "" for a Service's single unnamed port.
   */
  'name'?: (string);
  'protocol'?: (_kpng_localv1_Protocol);
  'port'?: (number);
  /**
   * 0 when none.
   */
  'nodePort'?: (number);
}

export interface PortMapping__Output {
  /**
   * "" for a Service's single unnamed port.
   */
  'name': (string);
  'protocol': (_kpng_localv1_Protocol__Output);
  'port': (number);
  /**
   * 0 when none.
   */
  'nodePort': (number);
}
