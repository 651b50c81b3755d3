// iam as a node component: a replica of the decision point and token service on this node, its
// records in flaredb (found through the receptionist, wherever flaredb runs), the JSON API with
// OpenAPI on `ports.iam-http` (default 8083), and — once per cluster — the bootstrap
// administrator. Signing keys are sealed under a key derived from the cluster key, which every
// member holds and nothing else does.
import { JsonServer } from '../../runtime/http/json-server.ts';
import { apiUrl, type ComponentDescriptor } from '../../runtime/node/component.ts';
import { loadClusterKeyFile } from '../../transports/libp2p/cluster-key.ts';
import { connectFlaredb } from '../flaredb/client/connect.ts';
import { iamRoutes } from './api/http-api.ts';
import { bootstrapAdmin } from './bootstrap.ts';
import { threadPoolHasher } from './core/password.ts';
import { startIam } from './iam-component.ts';
import type { ReplicaStatus } from './protocol.ts';

export const DEFAULT_IAM_HTTP_PORT = 8083;
/** Between bootstrap attempts while flaredb is still forming. */
const BOOTSTRAP_RETRY_MS = 2_000;

export const iamDescriptor: ComponentDescriptor = {
  name: 'iam',
  dependencies: ['flaredb'],
  async start(ctx) {
    const log = ctx.log.child({ component: 'iam' });
    const env = ctx.system.env;
    const clusterSecret = await loadClusterKeyFile(ctx.config.clusterKeyFile);
    const kv = connectFlaredb(ctx);
    const hasher = threadPoolHasher();
    const iam = startIam(ctx.system, { kv, receptionist: ctx.receptionist, clusterSecret, hasher });
    const server = new JsonServer({ routes: iamRoutes({ system: ctx.system, replica: iam.replica, core: iam.core, config: iam.config }), gate: ctx.gate, log, tls: ctx.tls });
    let port: number;
    try {
      port = (await server.listen(ctx.config.ports?.['iam-http'] ?? DEFAULT_IAM_HTTP_PORT, ctx.host)).port;
    } catch (error) {
      await ctx.system.stop(iam.ref);
      throw error;
    }
    // Bootstrap needs flaredb, which may still be waiting for its other voters: keep trying in the
    // background rather than holding up this node's start (the other voters may be waiting for it).
    let stopped = false;
    const bootstrap = async (): Promise<void> => {
      while (!stopped) {
        try {
          await bootstrapAdmin({ store: iam.store, hasher, env, node: ctx.nodeId, dataDir: ctx.config.dataDir, log });
          return;
        } catch (error) {
          log.debug({ err: error }, 'iam bootstrap not done yet; retrying');
          await new Promise<void>((resolve) => env.setTimer(BOOTSTRAP_RETRY_MS, resolve));
        }
      }
    };
    void bootstrap();
    return {
      endpoints: { 'iam-http': apiUrl(ctx.tls, ctx.host, port) },
      status: async () => {
        const s = await ctx.system.ask(iam.replica, { type: 'iam.status' }, { timeoutMs: 2_000 }) as ReplicaStatus;
        return { epoch: s.epoch, current: s.current, signingKey: s.signingKey ?? null, keys: s.keys, gates: s.gates };
      },
      stopServing: async () => {
        stopped = true;
        await server.close();
      },
      release: () => Promise.resolve(),
    };
  },
};
