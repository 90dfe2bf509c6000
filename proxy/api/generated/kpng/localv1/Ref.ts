// Original file: proxy/api/localv1.proto

import type { Set as _kpng_localv1_Set, Set__Output as _kpng_localv1_Set__Output } from '../../kpng/localv1/Set.ts';

export interface Ref {
  'set'?: (_kpng_localv1_Set);
  'path'?: (string);
}

export interface Ref__Output {
  'set': (_kpng_localv1_Set__Output);
  'path': (string);
}
