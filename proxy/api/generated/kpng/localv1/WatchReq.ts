// Original file: proxy/api/localv1.proto


export interface WatchReq {
  /**
   * The node whose view to stream (the Node object's name). Required.
   */
  'nodeName'?: (string);
}

export interface WatchReq__Output {
  /**
   * The node whose view to stream (the Node object's name). Required.
   */
  'nodeName': (string);
}
