// Original file: proxy/api/localv1.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { OpItem as _kpng_localv1_OpItem, OpItem__Output as _kpng_localv1_OpItem__Output } from '../../kpng/localv1/OpItem.ts';
import type { WatchReq as _kpng_localv1_WatchReq, WatchReq__Output as _kpng_localv1_WatchReq__Output } from '../../kpng/localv1/WatchReq.ts';

export interface SetsClient extends grpc.Client {
  /**
   * Watch streams the view of one node as change sets.
   * 
   * - The client asks for the next change set by sending a WatchReq; the server answers
   * with zero or more ops and then Sync. The client sends its next WatchReq when it is
   * ready for more (usually right after Sync).
   * - The first answer on a stream is a full snapshot: Reset, then Set for every entry,
   * then Sync. A client that (re)connects therefore always rebuilds its view from
   * scratch.
   * - Every later answer carries only the differences from what this stream received
   * before: Set for entries added or changed, Delete for entries removed, then Sync.
   * - The server answers only when the node's view differs from what the stream last
   * received: nothing is sent while it does not change. Changes that happen before the
   * client asks again are merged into one change set.
   * - The server sends nothing until it has a complete view of the cluster.
   * - Within a change set, ops come in no particular order; the view is consistent at
   * Sync only.
   * - Every WatchReq on a stream must name the same, non-empty node; otherwise the stream
   * ends with INVALID_ARGUMENT.
   */
  Watch(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_kpng_localv1_WatchReq, _kpng_localv1_OpItem__Output>;
  Watch(options?: grpc.CallOptions): grpc.ClientDuplexStream<_kpng_localv1_WatchReq, _kpng_localv1_OpItem__Output>;
  /**
   * Watch streams the view of one node as change sets.
   * 
   * - The client asks for the next change set by sending a WatchReq; the server answers
   * with zero or more ops and then Sync. The client sends its next WatchReq when it is
   * ready for more (usually right after Sync).
   * - The first answer on a stream is a full snapshot: Reset, then Set for every entry,
   * then Sync. A client that (re)connects therefore always rebuilds its view from
   * scratch.
   * - Every later answer carries only the differences from what this stream received
   * before: Set for entries added or changed, Delete for entries removed, then Sync.
   * - The server answers only when the node's view differs from what the stream last
   * received: nothing is sent while it does not change. Changes that happen before the
   * client asks again are merged into one change set.
   * - The server sends nothing until it has a complete view of the cluster.
   * - Within a change set, ops come in no particular order; the view is consistent at
   * Sync only.
   * - Every WatchReq on a stream must name the same, non-empty node; otherwise the stream
   * ends with INVALID_ARGUMENT.
   */
  watch(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_kpng_localv1_WatchReq, _kpng_localv1_OpItem__Output>;
  watch(options?: grpc.CallOptions): grpc.ClientDuplexStream<_kpng_localv1_WatchReq, _kpng_localv1_OpItem__Output>;
  
}

export interface SetsHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Watch streams the view of one node as change sets.
   * 
   * - The client asks for the next change set by sending a WatchReq; the server answers
   * with zero or more ops and then Sync. The client sends its next WatchReq when it is
   * ready for more (usually right after Sync).
   * - The first answer on a stream is a full snapshot: Reset, then Set for every entry,
   * then Sync. A client that (re)connects therefore always rebuilds its view from
   * scratch.
   * - Every later answer carries only the differences from what this stream received
   * before: Set for entries added or changed, Delete for entries removed, then Sync.
   * - The server answers only when the node's view differs from what the stream last
   * received: nothing is sent while it does not change. Changes that happen before the
   * client asks again are merged into one change set.
   * - The server sends nothing until it has a complete view of the cluster.
   * - Within a change set, ops come in no particular order; the view is consistent at
   * Sync only.
   * - Every WatchReq on a stream must name the same, non-empty node; otherwise the stream
   * ends with INVALID_ARGUMENT.
   */
  Watch: grpc.handleBidiStreamingCall<_kpng_localv1_WatchReq__Output, _kpng_localv1_OpItem>;
  
}

export interface SetsDefinition extends grpc.ServiceDefinition {
  Watch: MethodDefinition<_kpng_localv1_WatchReq, _kpng_localv1_OpItem, _kpng_localv1_WatchReq__Output, _kpng_localv1_OpItem__Output>
}
