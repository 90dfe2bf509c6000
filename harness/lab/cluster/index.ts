// harness/lab/cluster: the lab cluster. A real etcd + kube-apiserver, N node namespaces
// running the proxy under test from the kube source, pods as namespaces with echo
// servers, and the lab's stand-ins for the kubelet and the endpointslice controller.
//
//   const lab = await Lab.start({ backend: 'iptables', family: 'dual', nodes: 3 });
//   const pod = await lab.workloads.createPod({ namespace: 's01', name: 'ep-1', node: 'node-1', labels: { app: 'x' }, ports: [{ containerPort: 8080, protocol: 'TCP' }] });
//   const svc = await lab.workloads.createService('s01', { metadata: { name: 'x' }, spec: { selector: { app: 'x' }, ports: [{ port: 80, targetPort: 8080 }] } });
//   await lab.clients[0].httpGet(urlFor(svc.spec.clusterIPs[0], 80));   // answered by ep-1 once the proxies caught up
//   await lab.destroy();
export { Lab, liveLabList, relayAddresses, startLabControlPlane, writeNodeKubeconfig, RELAY_NAMESPACE, RELAY_PORT, type LabOptions } from './lab.ts';
export { Workloads, LabPod, withFamilyDefaults, type PodOptions } from './workloads.ts';
export { LabApi, LabApiError } from './kube-api.ts';
export {
  endpointSlicesFor,
  nodeObject,
  planSlices,
  selectorMatches,
  serviceFamilies,
  labelHeadless,
  labelManagedBy,
  labelServiceName,
  labelServiceProxyName,
  labelZone,
  type ContainerPort,
  type LabNodeInput,
  type PodInfo,
  type SlicePlan,
} from './objects.ts';
export { backendAvailable, proxyCommands, proxyStageHelp, proxyEntry, type NodeProxy, type ProxyCommand, type ProxyCommandInput } from './proxies.ts';
export { checkLabScope, labBackends, thisHost, whyLeftOut, whyRefused, type LabHost } from './backends.ts';
export { startApiRelay, type ApiRelay, type ApiRelayOptions } from './api-relay.ts';
