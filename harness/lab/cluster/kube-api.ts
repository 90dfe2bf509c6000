// The few API calls the lab makes as the cluster's users and controllers would: create,
// replace, read and delete of Nodes, Services, EndpointSlices and Namespaces, and the
// status subresources (Node addresses, LoadBalancer ingress). Plain JSON over HTTPS with
// @kubernetes/client-node's kubeconfig handling (auth, CA).
import { request } from 'node:https';
import { KubeConfig, type V1EndpointSlice, type V1Node, type V1Service } from '@kubernetes/client-node';
import { harnessErrorText } from '../../config/error-codes.ts';

export class LabApiError extends Error {
  readonly code = 'KPNG_ERR_LAB_API';
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export class LabApi {
  readonly kc: KubeConfig;

  constructor(kubeconfig: string) {
    this.kc = new KubeConfig();
    this.kc.loadFromFile(kubeconfig);
  }

  async call<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new LabApiError(0, '', harnessErrorText('KPNG_ERR_LAB_API', 'the kubeconfig has no current cluster'));
    const url = new URL(path, cluster.server);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const opts: Record<string, unknown> = {
      method,
      headers: { Accept: 'application/json', ...(payload !== undefined && { 'Content-Type': 'application/json' }) },
      timeout: 30_000,
    };
    await this.kc.applyToHTTPSOptions(opts as never);
    return new Promise<T>((resolve, reject) => {
      const req = request(url, opts, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            try {
              resolve((text ? JSON.parse(text) : {}) as T);
            } catch {
              reject(new LabApiError(status, 'NotJSON', harnessErrorText('KPNG_ERR_LAB_API', `${method} ${url.pathname}: ${status} with a body that is not JSON: ${text.slice(0, 200)}`)));
            }
            return;
          }
          let reason = '';
          let message = text.slice(0, 500);
          try {
            const parsed = JSON.parse(text) as { reason?: string; message?: string };
            reason = parsed.reason ?? '';
            message = parsed.message ?? message;
          } catch {
            // Not a Status object: keep the text.
          }
          reject(new LabApiError(status, reason, harnessErrorText('KPNG_ERR_LAB_API', `${method} ${url.pathname}: ${status} ${reason}: ${message}`)));
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new LabApiError(0, 'Timeout', harnessErrorText('KPNG_ERR_LAB_API', `${method} ${url.pathname}: timed out`))));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Creates a Namespace unless it exists. */
  async ensureNamespace(name: string): Promise<void> {
    try {
      await this.call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    } catch (error) {
      if (!(error instanceof LabApiError && error.status === 409)) throw error;
    }
  }

  /** Creates a Node, then writes its status (addresses), as a kubelet registering itself does. */
  async registerNode(node: V1Node): Promise<V1Node> {
    const created = await this.call<V1Node>('POST', '/api/v1/nodes', { ...node, status: undefined });
    return this.call<V1Node>('PUT', `/api/v1/nodes/${node.metadata?.name ?? ''}/status`, { ...created, status: node.status });
  }

  async deleteNode(name: string): Promise<void> {
    await ignoreNotFound(this.call('DELETE', `/api/v1/nodes/${name}`));
  }

  createService(namespace: string, service: V1Service): Promise<V1Service> {
    return this.call<V1Service>('POST', `/api/v1/namespaces/${namespace}/services`, service);
  }

  readService(namespace: string, name: string): Promise<V1Service> {
    return this.call<V1Service>('GET', `/api/v1/namespaces/${namespace}/services/${name}`);
  }

  replaceService(service: V1Service): Promise<V1Service> {
    const { namespace, name } = service.metadata ?? {};
    return this.call<V1Service>('PUT', `/api/v1/namespaces/${namespace ?? ''}/services/${name ?? ''}`, service);
  }

  replaceServiceStatus(service: V1Service): Promise<V1Service> {
    const { namespace, name } = service.metadata ?? {};
    return this.call<V1Service>('PUT', `/api/v1/namespaces/${namespace ?? ''}/services/${name ?? ''}/status`, service);
  }

  async deleteService(namespace: string, name: string): Promise<void> {
    await ignoreNotFound(this.call('DELETE', `/api/v1/namespaces/${namespace}/services/${name}`));
  }

  createEndpointSlice(slice: V1EndpointSlice): Promise<V1EndpointSlice> {
    return this.call<V1EndpointSlice>('POST', `/apis/discovery.k8s.io/v1/namespaces/${slice.metadata?.namespace ?? ''}/endpointslices`, slice);
  }

  replaceEndpointSlice(slice: V1EndpointSlice): Promise<V1EndpointSlice> {
    const { namespace, name } = slice.metadata ?? {};
    return this.call<V1EndpointSlice>('PUT', `/apis/discovery.k8s.io/v1/namespaces/${namespace ?? ''}/endpointslices/${name ?? ''}`, slice);
  }

  async deleteEndpointSlice(namespace: string, name: string): Promise<void> {
    await ignoreNotFound(this.call('DELETE', `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices/${name}`));
  }
}

async function ignoreNotFound(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (error) {
    if (!(error instanceof LabApiError && error.status === 404)) throw error;
  }
}
