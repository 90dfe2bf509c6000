// proxy/api: the node-local wire API (localv1.proto): its messages, the conversion from
// and to node-local state, the gRPC server and client plumbing.
export { ApiError, type ApiErrorCode } from './errors.ts';
export { parseApiAddress, formatApiAddress, grpcTarget, serverCredentials, channelCredentials, type ApiAddress, type TLSFiles } from './transport.ts';
export { ApiServer, type ApiServerOptions } from './server.ts';
export { createSetsClient, type SetsClientOptions } from './client.ts';
export { snapshotOps, changeOps, ViewAssembler, serviceMessage, endpointMessages, nodeMessage, endpointPath, servicePortOfEndpointPath } from './convert.ts';
export {
  localv1,
  packageDefinition,
  loaderOptions,
  protoPath,
  packageName,
  serviceName,
  type OpItem,
  type OpItem__Output,
  type WatchReq,
  type WatchReq__Output,
  type SetsClient,
  type SetsHandlers,
  type Service,
  type Service__Output,
  type Endpoint,
  type Endpoint__Output,
  type Node,
  type Node__Output,
  type SetName,
} from './proto.ts';
