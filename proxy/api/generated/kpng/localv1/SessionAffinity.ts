// Original file: proxy/api/localv1.proto

import type { ClientIPAffinity as _kpng_localv1_ClientIPAffinity, ClientIPAffinity__Output as _kpng_localv1_ClientIPAffinity__Output } from '../../kpng/localv1/ClientIPAffinity.ts';

export interface SessionAffinity {
  'clientIp'?: (_kpng_localv1_ClientIPAffinity | null);
}

export interface SessionAffinity__Output {
  'clientIp': (_kpng_localv1_ClientIPAffinity__Output | null);
}
