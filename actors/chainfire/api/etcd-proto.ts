// Loads etcd's v3 protos (proto/, etcd's field names and numbers) into gRPC service definitions,
// decoded the way the chainfire core types expect: original field names, int64 as decimal
// strings (bigint at the edge, see wire.ts), enums by name, proto3 defaults filled, oneof names set.
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { PackageDefinition } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import { UltraError } from '../../../runtime/errors.ts';

/** The etcd services chainfire registers, by their unqualified proto name. */
export const ETCD_SERVICES = ['KV', 'Watch', 'Lease', 'Cluster', 'Maintenance', 'Auth'] as const;
export type EtcdServiceName = (typeof ETCD_SERVICES)[number];

export type EtcdServiceDefinitions = Readonly<Record<EtcdServiceName, ServiceDefinition>>;

const RPC_PROTO = fileURLToPath(new URL('./proto/rpc.proto', import.meta.url));

let loaded: EtcdServiceDefinitions | undefined;

export function etcdServiceDefinitions(): EtcdServiceDefinitions {
  loaded ??= fromPackage(
    loadSync(RPC_PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true }),
  );
  return loaded;
}

function fromPackage(pkg: PackageDefinition): EtcdServiceDefinitions {
  const entries = ETCD_SERVICES.map((name) => {
    const definition = pkg[`etcdserverpb.${name}`];
    // Message types also appear in the package; services are the entries whose members carry a path.
    if (definition === undefined || 'format' in definition) {
      throw new UltraError('Internal', `rpc.proto has no service etcdserverpb.${name}`);
    }
    return [name, definition as ServiceDefinition] as const;
  });
  return Object.fromEntries(entries) as Record<EtcdServiceName, ServiceDefinition>;
}
