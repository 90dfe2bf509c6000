// Original file: proxy/api/localv1.proto


export interface EndpointConditions {
  'ready'?: (boolean);
  'serving'?: (boolean);
  'terminating'?: (boolean);
}

export interface EndpointConditions__Output {
  'ready': (boolean);
  'serving': (boolean);
  'terminating': (boolean);
}
