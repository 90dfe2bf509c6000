// Original file: proxy/api/localv1.proto

import type { IPFamily as _kpng_localv1_IPFamily, IPFamily__Output as _kpng_localv1_IPFamily__Output } from '../../kpng/localv1/IPFamily.ts';
import type { EndpointConditions as _kpng_localv1_EndpointConditions, EndpointConditions__Output as _kpng_localv1_EndpointConditions__Output } from '../../kpng/localv1/EndpointConditions.ts';
import type { EndpointScopes as _kpng_localv1_EndpointScopes, EndpointScopes__Output as _kpng_localv1_EndpointScopes__Output } from '../../kpng/localv1/EndpointScopes.ts';

/**
 * One endpoint of one service port, with the traffic it may take on this node.
 */
export interface Endpoint {
  'ip'?: (string);
  'family'?: (_kpng_localv1_IPFamily);
  /**
   * The target port for this service port (named target ports resolved).
   */
  'port'?: (number);
  /**
   * The endpoint runs on this node.
   */
  'local'?: (boolean);
  'conditions'?: (_kpng_localv1_EndpointConditions | null);
  'nodeName'?: (string);
  'zone'?: (string);
  'hostname'?: (string);
  /**
   * "Kind/namespace/name", for humans.
   */
  'targetRef'?: (string);
  'scopes'?: (_kpng_localv1_EndpointScopes | null);
  '_nodeName'?: "nodeName";
  '_zone'?: "zone";
  '_hostname'?: "hostname";
  '_targetRef'?: "targetRef";
}

/**
 * One endpoint of one service port, with the traffic it may take on this node.
 */
export interface Endpoint__Output {
  'ip': (string);
  'family': (_kpng_localv1_IPFamily__Output);
  /**
   * The target port for this service port (named target ports resolved).
   */
  'port': (number);
  /**
   * The endpoint runs on this node.
   */
  'local': (boolean);
  'conditions': (_kpng_localv1_EndpointConditions__Output | null);
  'nodeName'?: (string);
  'zone'?: (string);
  'hostname'?: (string);
  /**
   * "Kind/namespace/name", for humans.
   */
  'targetRef'?: (string);
  'scopes': (_kpng_localv1_EndpointScopes__Output | null);
  '_nodeName'?: "nodeName";
  '_zone'?: "zone";
  '_hostname'?: "hostname";
  '_targetRef'?: "targetRef";
}
