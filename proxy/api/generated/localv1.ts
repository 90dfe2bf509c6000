import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { ClientIPAffinity as _kpng_localv1_ClientIPAffinity, ClientIPAffinity__Output as _kpng_localv1_ClientIPAffinity__Output } from './kpng/localv1/ClientIPAffinity.ts';
import type { EmptyOp as _kpng_localv1_EmptyOp, EmptyOp__Output as _kpng_localv1_EmptyOp__Output } from './kpng/localv1/EmptyOp.ts';
import type { Endpoint as _kpng_localv1_Endpoint, Endpoint__Output as _kpng_localv1_Endpoint__Output } from './kpng/localv1/Endpoint.ts';
import type { EndpointConditions as _kpng_localv1_EndpointConditions, EndpointConditions__Output as _kpng_localv1_EndpointConditions__Output } from './kpng/localv1/EndpointConditions.ts';
import type { EndpointScopes as _kpng_localv1_EndpointScopes, EndpointScopes__Output as _kpng_localv1_EndpointScopes__Output } from './kpng/localv1/EndpointScopes.ts';
import type { IPFilters as _kpng_localv1_IPFilters, IPFilters__Output as _kpng_localv1_IPFilters__Output } from './kpng/localv1/IPFilters.ts';
import type { Node as _kpng_localv1_Node, Node__Output as _kpng_localv1_Node__Output } from './kpng/localv1/Node.ts';
import type { NodeAddress as _kpng_localv1_NodeAddress, NodeAddress__Output as _kpng_localv1_NodeAddress__Output } from './kpng/localv1/NodeAddress.ts';
import type { OpItem as _kpng_localv1_OpItem, OpItem__Output as _kpng_localv1_OpItem__Output } from './kpng/localv1/OpItem.ts';
import type { PortMapping as _kpng_localv1_PortMapping, PortMapping__Output as _kpng_localv1_PortMapping__Output } from './kpng/localv1/PortMapping.ts';
import type { Ref as _kpng_localv1_Ref, Ref__Output as _kpng_localv1_Ref__Output } from './kpng/localv1/Ref.ts';
import type { Service as _kpng_localv1_Service, Service__Output as _kpng_localv1_Service__Output } from './kpng/localv1/Service.ts';
import type { ServiceIPs as _kpng_localv1_ServiceIPs, ServiceIPs__Output as _kpng_localv1_ServiceIPs__Output } from './kpng/localv1/ServiceIPs.ts';
import type { SessionAffinity as _kpng_localv1_SessionAffinity, SessionAffinity__Output as _kpng_localv1_SessionAffinity__Output } from './kpng/localv1/SessionAffinity.ts';
import type { SetsClient as _kpng_localv1_SetsClient, SetsDefinition as _kpng_localv1_SetsDefinition } from './kpng/localv1/Sets.ts';
import type { Value as _kpng_localv1_Value, Value__Output as _kpng_localv1_Value__Output } from './kpng/localv1/Value.ts';
import type { WatchReq as _kpng_localv1_WatchReq, WatchReq__Output as _kpng_localv1_WatchReq__Output } from './kpng/localv1/WatchReq.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  kpng: {
    localv1: {
      ClientIPAffinity: MessageTypeDefinition<_kpng_localv1_ClientIPAffinity, _kpng_localv1_ClientIPAffinity__Output>
      EmptyOp: MessageTypeDefinition<_kpng_localv1_EmptyOp, _kpng_localv1_EmptyOp__Output>
      Endpoint: MessageTypeDefinition<_kpng_localv1_Endpoint, _kpng_localv1_Endpoint__Output>
      EndpointConditions: MessageTypeDefinition<_kpng_localv1_EndpointConditions, _kpng_localv1_EndpointConditions__Output>
      EndpointScopes: MessageTypeDefinition<_kpng_localv1_EndpointScopes, _kpng_localv1_EndpointScopes__Output>
      IPFamily: EnumTypeDefinition
      IPFilters: MessageTypeDefinition<_kpng_localv1_IPFilters, _kpng_localv1_IPFilters__Output>
      Node: MessageTypeDefinition<_kpng_localv1_Node, _kpng_localv1_Node__Output>
      NodeAddress: MessageTypeDefinition<_kpng_localv1_NodeAddress, _kpng_localv1_NodeAddress__Output>
      OpItem: MessageTypeDefinition<_kpng_localv1_OpItem, _kpng_localv1_OpItem__Output>
      PortMapping: MessageTypeDefinition<_kpng_localv1_PortMapping, _kpng_localv1_PortMapping__Output>
      Protocol: EnumTypeDefinition
      Ref: MessageTypeDefinition<_kpng_localv1_Ref, _kpng_localv1_Ref__Output>
      Service: MessageTypeDefinition<_kpng_localv1_Service, _kpng_localv1_Service__Output>
      ServiceIPs: MessageTypeDefinition<_kpng_localv1_ServiceIPs, _kpng_localv1_ServiceIPs__Output>
      SessionAffinity: MessageTypeDefinition<_kpng_localv1_SessionAffinity, _kpng_localv1_SessionAffinity__Output>
      Set: EnumTypeDefinition
      Sets: SubtypeConstructor<typeof grpc.Client, _kpng_localv1_SetsClient> & { service: _kpng_localv1_SetsDefinition }
      Value: MessageTypeDefinition<_kpng_localv1_Value, _kpng_localv1_Value__Output>
      WatchReq: MessageTypeDefinition<_kpng_localv1_WatchReq, _kpng_localv1_WatchReq__Output>
    }
  }
}

