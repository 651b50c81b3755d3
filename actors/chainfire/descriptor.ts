// chainfire as a node component: its Raft log and store on LevelDB under <dataDir>/chainfire, the
// etcd v3 gRPC API on `ports.chainfire-grpc` (default 2379), authenticated as etcd user `root`
// with the node's admin token until iam lands (`etcdctl --user root:$(cat <dataDir>/admin-token)`).
import { join } from 'node:path';
import { LevelBackend } from '../../runtime/persistence/level-backend.ts';
import type { ComponentDescriptor } from '../../runtime/node/component.ts';
import { EtcdGrpcServer } from './api/etcd-grpc-server.ts';
import { startChainfire } from './chainfire-component.ts';

export const DEFAULT_CHAINFIRE_GRPC_PORT = 2379;

export const chainfireDescriptor: ComponentDescriptor = {
  name: 'chainfire',
  dependencies: [],
  async start(ctx) {
    const backend = await LevelBackend.open(join(ctx.config.dataDir, 'chainfire'));
    const port = ctx.config.ports?.['chainfire-grpc'] ?? DEFAULT_CHAINFIRE_GRPC_PORT;
    let grpcAddress = '';
    const chainfire = startChainfire(ctx.system, {
      nodeId: ctx.nodeId,
      voters: ctx.voters,
      backend,
      clientUrls: (member) => (member === ctx.nodeId && grpcAddress !== '' ? [`http://${grpcAddress}`] : []),
    });
    const server = new EtcdGrpcServer({ service: chainfire.service, host: ctx.host, port, log: ctx.log.child({ component: 'chainfire' }), credential: { user: 'root', password: ctx.adminToken }, env: ctx.system.env });
    let bound: number;
    try {
      bound = await server.start();
    } catch (error) {
      await backend.close();
      throw error;
    }
    grpcAddress = `${ctx.host}:${bound}`;
    return {
      endpoints: { 'chainfire-grpc': grpcAddress },
      stopServing: () => server.close(),
      release: () => backend.close(),
    };
  },
};
