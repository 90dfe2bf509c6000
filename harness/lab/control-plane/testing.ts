// The control plane for vitest files: one etcd + kube-apiserver per test file, started
// before its tests and stopped (data folder removed) after them, also when a test failed.
//
//   const cp = useControlPlane({ family: 'dual' });
//   it('...', async () => { const kubeconfig = cp().kubeconfig; ... });
import { afterAll, beforeAll } from 'vitest';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from './control-plane.ts';
import { harnessErrorText } from '../../config/error-codes.ts';

export function useControlPlane(opts: ControlPlaneOptions = {}): () => ControlPlane {
  let cp: ControlPlane | undefined;
  beforeAll(async () => {
    cp = await startControlPlane(opts);
  }, 180_000);
  afterAll(async () => {
    await cp?.stop();
  }, 60_000);
  return () => {
    if (cp === undefined) throw new Error(harnessErrorText('KPNG_ERR_CONTROL_PLANE', 'the control plane exists only once beforeAll has run'));
    return cp;
  };
}
