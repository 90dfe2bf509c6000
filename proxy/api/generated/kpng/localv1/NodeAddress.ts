// Original file: proxy/api/localv1.proto


export interface NodeAddress {
  'type'?: (string);
  'address'?: (string);
}

export interface NodeAddress__Output {
  'type': (string);
  'address': (string);
}
