// Original file: proxy/api/localv1.proto

export const IPFamily = {
  IP_FAMILY_UNSPECIFIED: 'IP_FAMILY_UNSPECIFIED',
  IPV4: 'IPV4',
  IPV6: 'IPV6',
} as const;

export type IPFamily =
  | 'IP_FAMILY_UNSPECIFIED'
  | 0
  | 'IPV4'
  | 1
  | 'IPV6'
  | 2

export type IPFamily__Output = typeof IPFamily[keyof typeof IPFamily]
