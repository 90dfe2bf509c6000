// The localv1 protocol, loaded once from localv1.proto (which must sit beside this
// module), with the options the generated types in ./generated describe.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';
import type { ProtoGrpcType } from './generated/localv1.ts';

export type { Endpoint, Endpoint__Output } from './generated/kpng/localv1/Endpoint.ts';
export type { Node, Node__Output } from './generated/kpng/localv1/Node.ts';
export type { OpItem, OpItem__Output } from './generated/kpng/localv1/OpItem.ts';
export type { Service, Service__Output } from './generated/kpng/localv1/Service.ts';
export type { SetsClient, SetsHandlers } from './generated/kpng/localv1/Sets.ts';
export type { Set__Output as SetName } from './generated/kpng/localv1/Set.ts';
export type { WatchReq, WatchReq__Output } from './generated/kpng/localv1/WatchReq.ts';

export const protoPath = fileURLToPath(new URL('./localv1.proto', import.meta.url));
export const packageName = 'kpng.localv1';
export const serviceName = `${packageName}.Sets`;

/** Field names in camelCase, enums as their names, every field present on output. Keep in step with generate.ts. */
export const loaderOptions: Options = { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true };

let loaded: { definition: PackageDefinition; localv1: ProtoGrpcType['kpng']['localv1'] } | undefined;

function load() {
  if (!loaded) {
    const definition = loadSync(path.basename(protoPath), { ...loaderOptions, includeDirs: [path.dirname(protoPath)] });
    const localv1 = (loadPackageDefinition(definition) as unknown as ProtoGrpcType).kpng.localv1;
    loaded = { definition, localv1 };
  }
  return loaded;
}

/** The package definition (for gRPC servers and the reflection service). */
export function packageDefinition(): PackageDefinition {
  return load().definition;
}

/** The loaded package: the Sets client constructor and service definition, and a codec per message. */
export function localv1(): ProtoGrpcType['kpng']['localv1'] {
  return load().localv1;
}
