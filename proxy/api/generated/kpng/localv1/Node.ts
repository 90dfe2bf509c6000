// Original file: proxy/api/localv1.proto

import type { NodeAddress as _kpng_localv1_NodeAddress, NodeAddress__Output as _kpng_localv1_NodeAddress__Output } from '../../kpng/localv1/NodeAddress.ts';

export interface Node {
  'name'?: (string);
  'zone'?: (string);
  'labels'?: ({[key: string]: string});
  'addresses'?: (_kpng_localv1_NodeAddress)[];
  /**
   * Whether the Node object is known at all (false: only the name is).
   */
  'known'?: (boolean);
  /**
   * metadata.deletionTimestamp is set.
   */
  'deleting'?: (boolean);
  /**
   * Tainted ToBeDeletedByClusterAutoscaler.
   */
  'toBeDeleted'?: (boolean);
  '_zone'?: "zone";
}

export interface Node__Output {
  'name': (string);
  'zone'?: (string);
  'labels': ({[key: string]: string});
  'addresses': (_kpng_localv1_NodeAddress__Output)[];
  /**
   * Whether the Node object is known at all (false: only the name is).
   */
  'known': (boolean);
  /**
   * metadata.deletionTimestamp is set.
   */
  'deleting': (boolean);
  /**
   * Tainted ToBeDeletedByClusterAutoscaler.
   */
  'toBeDeleted': (boolean);
  '_zone'?: "zone";
}
