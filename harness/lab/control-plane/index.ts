// harness/lab/control-plane: etcd + kube-apiserver on loopback.
export { startControlPlane, ControlPlaneError, type ControlPlane, type ControlPlaneOptions } from './control-plane.ts';
export { makeCA, issueCert, issueClientCert, issueServerCert, type ControlPlaneCerts } from './certs.ts';
export { cidrsFor, families, firstServiceIP, type Family, type FamilyCIDRs } from './families.ts';
export { freePort } from './ports.ts';
