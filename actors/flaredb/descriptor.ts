// flaredb as a node component: its Raft logs, region snapshots and eventual data on LevelDB under
// <dataDir>/flaredb, and the JSON API on `ports.flaredb-http` (default 8082), authenticated and
// authorized by the node's access gate. The store registers with the receptionist, so
// `connectFlaredb(ctx)` reaches it from any node.
import { join } from 'node:path';
import { apiUrl, type ComponentDescriptor } from '../../runtime/node/component.ts';
import { JsonServer } from '../../runtime/http/json-server.ts';
import { LevelBackend } from '../../runtime/persistence/level-backend.ts';
import { flaredbRoutes } from './api/http-api.ts';
import { startFlaredb } from './flaredb-component.ts';
import { regionGroupName } from './store/store-actor.ts';

export const DEFAULT_FLAREDB_HTTP_PORT = 8082;

export const flaredbDescriptor: ComponentDescriptor = {
  name: 'flaredb',
  dependencies: [],
  async start(ctx) {
    const backend = await LevelBackend.open(join(ctx.config.dataDir, 'flaredb'));
    const log = ctx.log.child({ component: 'flaredb' });
    const flaredb = startFlaredb(ctx.system, { nodeId: ctx.nodeId, voters: ctx.voters, backend, receptionist: ctx.receptionist, rejoining: ctx.rejoining });
    const server = new JsonServer({ routes: flaredbRoutes({ client: flaredb.client, system: ctx.system, nodeId: ctx.nodeId }), gate: ctx.gate, log, tls: ctx.tls });
    let port: number;
    try {
      port = (await server.listen(ctx.config.ports?.['flaredb-http'] ?? DEFAULT_FLAREDB_HTTP_PORT, ctx.host)).port;
    } catch (error) {
      await ctx.system.stop(flaredb.ref);
      await backend.close();
      throw error;
    }
    return {
      endpoints: { 'flaredb-http': apiUrl(ctx.tls, ctx.host, port) },
      status: async () => {
        const status = await flaredb.client.storeStatus(ctx.nodeId);
        const regions = status.groups.filter((g) => g.region !== undefined);
        const pd = status.groups.find((g) => g.group === 'pd');
        return {
          regions: regions.length,
          leading: regions.filter((g) => g.role === 'leader').length,
          leaderless: status.groups.filter((g) => g.initialized && g.leader === null).map((g) => g.group),
          ...(pd === undefined ? {} : { pd: { role: pd.role, term: pd.term, leader: pd.leader } }),
          eventualKeys: status.eventualKeys,
          // Each Raft group's view (the first 100), for `ultracloud cluster status`.
          groups: status.groups.slice(0, 100).map((g) => ({ group: g.group, role: g.role, term: g.term, leader: g.leader, commit: g.commit, applied: g.applied, lastIndex: g.lastIndex, recovering: g.recovering, ...(g.progress === undefined ? {} : { progress: g.progress }) })),
        };
      },
      // Caught up: no replica here is recovering, and the PD knows of no region with a replica on
      // this node that the node does not hold yet (the leaders' traffic creates them).
      caughtUp: async () => {
        const [status, regions] = await Promise.all([flaredb.client.storeStatus(ctx.nodeId), flaredb.client.regions()]);
        const held = new Set(status.groups.filter((g) => g.initialized).map((g) => g.group));
        return status.groups.every((g) => !g.recovering) && regions.every((r) => !r.peers.includes(ctx.nodeId) || held.has(regionGroupName(r.id)));
      },
      stopServing: () => server.close(),
      release: () => backend.close(),
    };
  },
};
