// chainfire as a node component: its Raft log and store on LevelDB under <dataDir>/chainfire, the
// etcd v3 gRPC API on `ports.chainfire-grpc` (default 2379) and the REST API on
// `ports.chainfire-http` (default 8081), both behind the node's access gate: etcd clients log in
// as an iam user (`etcdctl --user alice:<password>`) or as root with the cluster admin credential
// (`etcdctl --user root:$(cat <dataDir>/admin-token)`), and every call is authorized with its
// coordination:* action (api/etcd-auth.ts); REST takes a bearer token. settings.chainfire
// (config.ts) turns on etcd's auto compaction.
import { join } from 'node:path';
import { LevelBackend } from '../../runtime/persistence/level-backend.ts';
import { apiUrl, type ComponentDescriptor } from '../../runtime/node/component.ts';
import { JsonServer } from '../../runtime/http/json-server.ts';
import { iamPasswordLogin } from '../iam/iam-client.ts';
import { GateAuth } from './api/etcd-auth.ts';
import { EtcdGrpcServer } from './api/etcd-grpc-server.ts';
import { chainfireRestRoutes } from './api/rest-api.ts';
import { startChainfire } from './chainfire-component.ts';
import { parseChainfireSettings } from './config.ts';

export const DEFAULT_CHAINFIRE_GRPC_PORT = 2379;
export const DEFAULT_CHAINFIRE_HTTP_PORT = 8081;

export const chainfireDescriptor: ComponentDescriptor = {
  name: 'chainfire',
  dependencies: [],
  async start(ctx) {
    // Settings first: a bad one stops the node before anything is opened.
    const settings = parseChainfireSettings(ctx.config.settings?.chainfire);
    const backend = await LevelBackend.open(join(ctx.config.dataDir, 'chainfire'));
    const port = ctx.config.ports?.['chainfire-grpc'] ?? DEFAULT_CHAINFIRE_GRPC_PORT;
    let grpcUrl = '';
    const chainfire = startChainfire(ctx.system, {
      nodeId: ctx.nodeId,
      voters: ctx.voters,
      backend,
      rejoining: ctx.rejoining,
      autoCompaction: settings.autoCompaction,
      clientUrls: (member) => (member === ctx.nodeId && grpcUrl !== '' ? [grpcUrl] : []),
    });
    const server = new EtcdGrpcServer({ service: chainfire.service, host: ctx.host, port, log: ctx.log.child({ component: 'chainfire' }), authenticator: new GateAuth({ gate: ctx.gate, adminToken: ctx.adminToken, login: async (name, password) => (await iamPasswordLogin(ctx, name, password)).access_token }), env: ctx.system.env, tls: ctx.tls });
    let bound: number;
    try {
      bound = await server.start();
    } catch (error) {
      await backend.close();
      throw error;
    }
    grpcUrl = apiUrl(ctx.tls, ctx.host, bound);
    const rest = new JsonServer({ routes: chainfireRestRoutes(chainfire.service, ctx.system), gate: ctx.gate, log: ctx.log.child({ component: 'chainfire' }), tls: ctx.tls });
    let restPort: number;
    try {
      restPort = (await rest.listen(ctx.config.ports?.['chainfire-http'] ?? DEFAULT_CHAINFIRE_HTTP_PORT, ctx.host)).port;
    } catch (error) {
      await server.close();
      await backend.close();
      throw error;
    }
    return {
      endpoints: { 'chainfire-grpc': `${ctx.host}:${bound}`, 'chainfire-http': apiUrl(ctx.tls, ctx.host, restPort) },
      status: async () => {
        const raft = await chainfire.service.raftStatus();
        return { raft: { group: raft.group, role: raft.role, term: raft.term, leader: raft.leader, commit: raft.commit, applied: raft.applied, lastIndex: raft.lastIndex, recovering: raft.recovering } };
      },
      caughtUp: async () => !(await chainfire.service.raftStatus()).recovering,
      stopServing: async () => {
        await rest.close();
        await server.close();
      },
      release: () => backend.close(),
    };
  },
};
