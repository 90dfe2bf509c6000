// proxy/model: cluster state and the node-local computation. Pure: no I/O.
export * from './types.ts';
export * from './ip.ts';
export { ingestService, ingestEndpointSlice, ingestNode, type Ingested } from './ingest.ts';
export { ClusterState, appendTriggerTimes, changeTriggerTimesMax, emptyDelta, mergeDelta, isEmptyDelta, kindOf, keyOf, objectKinds, type ClusterDelta, type ApplyResult, type ObjectKind } from './cluster-state.ts';
export { categorizeEndpoints, topologyMode, usesClusterEndpoints, usesLocalEndpoints, type CandidateEndpoint, type PortPolicy, type Categorized } from './endpoints.ts';
export { computeLocalState, updateLocalState, nextLocalState, nodeModelOptions, servicePortKey, serviceCounts, servicePortsOf, localNodeOf, sortedServicePorts } from './local-state.ts';
export { localChanges, type LocalChanges } from './changes.ts';
export { deepEqual } from './deep-equal.ts';
export { nodeView, viewChanges, viewWithPorts, portChange, noChanges, nodeIPsOf, type NodeView, type FamilyView, type FamilyServicePort, type ViewChanges, type FamilyChanges, type PortChange } from './view.ts';
