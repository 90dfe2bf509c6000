// harness/manifests: the proxy's Kubernetes objects (Namespace, ServiceAccount, RBAC, an
// optional kubeconfig ConfigMap, the DaemonSet) rendered from handlebars templates.
export {
  manifestInputSchema,
  parseManifestInput,
  type ManifestInput,
  type ResolvedManifestInput,
} from './input.ts';
export {
  isSystemNamespace,
  renderDocuments,
  renderManifests,
  templateNames,
  type ManifestDocument,
  type TemplateName,
} from './render.ts';
export {
  KIND_API_SERVER,
  manifestInputFromTiltEnv,
  manifestMatrix,
  type FromTiltEnvOptions,
  type MatrixEntry,
} from './matrix.ts';
