// harness/config: tilt.env (read, validate, write), the accepted backends, families and
// models, the proxy's command lines, name and image validation, and the error type.
export {
  backends,
  deploymentModels,
  imagePullPolicies,
  ipFamilies,
  isBackend,
  isDeploymentModel,
  isIpFamily,
  type Backend,
  type DeploymentModel,
  type ImagePullPolicy,
  type IpFamily,
} from './backends.ts';
export { KpngError, isKpngError, type KpngErrorOptions } from './errors.ts';
export {
  DNS1123_LABEL_FORM,
  DNS1123_SUBDOMAIN_FORM,
  IMAGE_REF_FORM,
  dns1123LabelProblem,
  dns1123LabelSchema,
  dns1123SubdomainProblem,
  dns1123SubdomainSchema,
  imageRefProblem,
  imageRefSchema,
} from './names.ts';
export {
  HEALTHZ_PORT,
  KUBECONFIG_DIR,
  KUBECONFIG_FILE,
  KUBECONFIG_PATH,
  METRICS_PORT,
  NODE_NAME_ARG,
  PROXY_SOCKET,
  SOCKET_DIR,
  argsProblems,
  CLUSTER_CIDR_FLAG,
  baseProxyArgs,
  proxyArgs,
  withClusterCIDRs,
  type ArgsCheckInput,
  type ArgsProblem,
  type BaseProxyArgsInput,
  type ProxyArgs,
  type ProxyArgsInput,
} from './proxy-args.ts';
export { ListSyntaxError, formatPyList, parsePyList } from './py-list.ts';
export { closest, didYouMean } from './suggest.ts';
export {
  DEFAULT_TILT_ENV_HEADER,
  TiltEnvError,
  formatIssue,
  formatTiltEnv,
  parseTiltEnv,
  readTiltEnv,
  tiltEnvDefaults,
  tiltEnvFor,
  tiltEnvKeys,
  tiltEnvSchema,
  writeTiltEnv,
  type FormatTiltEnvOptions,
  type ParseTiltEnvOptions,
  type ParsedTiltEnv,
  type TiltEnv,
  type TiltEnvForOptions,
  type TiltEnvIssue,
  type TiltEnvIssueCode,
} from './tilt-env.ts';
