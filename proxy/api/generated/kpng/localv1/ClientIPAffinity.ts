// Original file: proxy/api/localv1.proto


export interface ClientIPAffinity {
  'timeoutSeconds'?: (number);
}

export interface ClientIPAffinity__Output {
  'timeoutSeconds': (number);
}
