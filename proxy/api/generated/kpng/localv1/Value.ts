// Original file: proxy/api/localv1.proto

import type { Ref as _kpng_localv1_Ref, Ref__Output as _kpng_localv1_Ref__Output } from '../../kpng/localv1/Ref.ts';

export interface Value {
  'ref'?: (_kpng_localv1_Ref | null);
  /**
   * The encoded entry: a Service, an Endpoint or a Node, by ref.set.
   */
  'bytes'?: (Buffer | Uint8Array | string);
}

export interface Value__Output {
  'ref': (_kpng_localv1_Ref__Output | null);
  /**
   * The encoded entry: a Service, an Endpoint or a Node, by ref.set.
   */
  'bytes': (Buffer);
}
