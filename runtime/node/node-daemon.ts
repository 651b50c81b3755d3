// One UltraCloud node: its identity and cluster key, an ActorSystem whose node id is the libp2p
// peer id, the libp2p cluster transport, the membership and service-registry actors, and the
// control API the CLI talks to. `startNode` brings it up in that order and `stop` takes it down
// in reverse; the endpoint file in the data dir tells local CLIs where it listens.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANY_INCARNATION, ActorSystem, type ActorRef } from '../actors/index.ts';
import { MEMBERSHIP_NAME, membershipActor, type MembershipMsg } from '../cluster/membership-actor.ts';
import type { Member } from '../cluster/membership-core.ts';
import { RECEPTIONIST_NAME, receptionist } from '../cluster/receptionist.ts';
import { realEnv } from '../env/real-env.ts';
import { UltraError } from '../errors.ts';
import { loadApiTls } from '../http/api-tls.ts';
import { JsonServer } from '../http/json-server.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { MetricsRegistry } from '../metrics/metrics-registry.ts';
import { ClusterRouter } from '../../transports/cluster-router.ts';
import { loadClusterKeyFile } from '../../transports/libp2p/cluster-key.ts';
import { loadOrCreateNodeIdentity } from '../../transports/libp2p/identity.ts';
import { Libp2pTransport } from '../../transports/libp2p/libp2p-transport.ts';
import { ensureAdminToken } from './admin-credential.ts';
import { createNodeGate } from './node-gate.ts';
import { controlRoutes } from './control-api.ts';
import { NODE_STATUS_NAME, NODE_STATUS_PATH, nodeStatusActor, type NodeStatusMsg } from './node-status-actor.ts';
import { resolveComponents } from './component-registry.ts';
import { lockDataDir, type DataDirLock } from './data-dir-lock.ts';
import { isRejoining, watchRejoin } from './rejoin.ts';
import { ENDPOINT_FILE, type NodeEndpoint } from './endpoint-file.ts';
import { apiUrl, type RunningComponent } from './component.ts';
import type { NodeConfig } from './node-config.ts';

/** What `startNode` reports while it brings components up (for `ultracloud up`'s progress display). */
export type StartProgress =
  | { readonly component: string; readonly phase: 'starting' }
  | { readonly component: string; readonly phase: 'ready'; readonly ms: number; readonly endpoints: Readonly<Record<string, string>> }
  | { readonly component: string; readonly phase: 'failed'; readonly error: string };

export interface StartNodeOptions {
  readonly log?: Logger;
  /** The data directory's lock, when the caller took it before preparing the directory. */
  readonly lock?: DataDirLock;
  readonly onProgress?: (progress: StartProgress) => void;
}

export interface RunningNode {
  readonly nodeId: string;
  readonly endpoint: NodeEndpoint;
  readonly system: ActorSystem;
  readonly log: Logger;
  /** Stops actors (children first), the API and the transport; bounded by `deadlineMs`. */
  stop(deadlineMs?: number): Promise<boolean>;
}

export async function startNode(config: NodeConfig, options: StartNodeOptions = {}): Promise<RunningNode> {
  const env = realEnv();
  const startedAtMs = env.now();
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const lock = options.lock ?? lockDataDir(config.dataDir);
  const cleanups: Array<() => Promise<void> | void> = [() => lock.release()];
  /** Component storage, released after the actor system stopped and before the lock goes. */
  const releases: Array<() => Promise<void>> = [];
  cleanups.unshift(async () => {
    for (const release of releases.reverse()) await release();
  });
  try {
    // First, so that a wrong certificate path stops the node before anything listens.
    const tls = config.tls === undefined ? undefined : loadApiTls(config.tls);
    const identity = await loadOrCreateNodeIdentity(config.dataDir, env);
    const clusterKey = await loadClusterKeyFile(config.clusterKeyFile);
    const log = options.log ?? createLogger({ node: identity.nodeId });
    const metrics = new MetricsRegistry();
    const system = new ActorSystem({ nodeId: identity.nodeId, env, log, metrics });
    // Cleanups run first to last; each unshift puts one in front. So the stop order is: endpoint
    // file, control API, component APIs, actors (children first), transport, storage, lock.
    let transport: Libp2pTransport | undefined = undefined;
    cleanups.unshift(async () => void (await transport?.close()));
    let shutdownDeadlineMs = 10_000;
    let shutdownCompleted = true;
    cleanups.unshift(async () => {
      shutdownCompleted = (await system.shutdown({ deadlineMs: shutdownDeadlineMs })).completed;
    });
    const router = new ClusterRouter(system);
    // Actor traffic rides a direct TLS link next to libp2p (docs/architecture.md: libp2p's data path
    // costs 2–5× raw TCP's latency); it listens on the first cluster address's host.
    const fastPathHost = /^\/(?:ip4|ip6)\/([^/]+)\//.exec(config.listen[0]!)?.[1] ?? '127.0.0.1';
    transport = await Libp2pTransport.start({ env, identity, clusterKey, listen: config.listen, peers: [], log, metrics, fastPath: { host: fastPathHost, port: 0 } });
    router.addTransport(transport);
    const addresses = transport.listenAddresses;
    const membership: ActorRef<MembershipMsg> = system.spawnSystem(membershipActor({ self: { node: identity.nodeId, addresses }, seeds: config.join, peers: transport }), { name: MEMBERSHIP_NAME });
    const receptionistRef = system.spawnSystem(receptionist({ membership }), { name: RECEPTIONIST_NAME });

    const token = ensureAdminToken(config.dataDir, env);
    const rejoining = isRejoining(config.dataDir);
    if (rejoining) log.warn('rejoining after a reset: replicas recover before they vote (docs/operations.md, node replacement)');
    const voters = [...new Set([identity.nodeId, ...config.join.map((address) => address.slice(address.lastIndexOf('/p2p/') + 5))])].sort();
    const gate = createNodeGate({ system, receptionist: receptionistRef, adminToken: token });
    const running = new Map<string, RunningComponent>();
    for (const descriptor of await resolveComponents(config.components)) {
      options.onProgress?.({ component: descriptor.name, phase: 'starting' });
      const startMs = env.now();
      let component: RunningComponent;
      try {
        component = await descriptor.start({ system, nodeId: identity.nodeId, config, voters, host: config.http.host, tls, adminToken: token, gate, receptionist: receptionistRef, log, rejoining });
      } catch (error) {
        options.onProgress?.({ component: descriptor.name, phase: 'failed', error: UltraError.from(error).message });
        throw error;
      }
      options.onProgress?.({ component: descriptor.name, phase: 'ready', ms: env.now() - startMs, endpoints: component.endpoints });
      running.set(descriptor.name, component);
      cleanups.unshift(() => component.stopServing());
      releases.push(() => component.release());
    }
    /** Each component's status; one that cannot answer reports health 'down' with the error. */
    const componentStatus = async (): Promise<Record<string, unknown>> => {
      const statuses: Record<string, unknown> = {};
      for (const [name, component] of running) {
        statuses[name] = await component.status().then(
          (status) => ({ health: 'ok', ...status }),
          (error: unknown) => ({ health: 'down', error: UltraError.from(error).toData() }),
        );
      }
      return statuses;
    };
    system.spawnSystem(nodeStatusActor(componentStatus), { name: NODE_STATUS_NAME });
    /** Every member's component statuses, asked in parallel; one that cannot answer is 'unreachable'. */
    const clusterStatus = async (of: readonly Member[]): Promise<Record<string, unknown>> => {
      const entries = await Promise.all(
        of.map(async (m) => {
          if (m.status !== 'up') return [m.node, { health: m.status }] as const;
          const ref: ActorRef<NodeStatusMsg> = { node: m.node, path: NODE_STATUS_PATH, uid: ANY_INCARNATION };
          return system.ask(ref, { type: 'node.status' }, { timeoutMs: 3_000 }).then(
            (components) => [m.node, { health: 'ok', components }] as const,
            (error: unknown) => [m.node, { health: 'unreachable', error: UltraError.from(error).message }] as const,
          );
        }),
      );
      return Object.fromEntries(entries);
    };
    const members = (): Promise<Member[]> => system.ask(membership, { type: 'members' }, { timeoutMs: 5_000 });
    const server = new JsonServer({
      routes: [
        ...controlRoutes({ system, components: componentStatus, startedAtMs }),
        {
          method: 'GET',
          path: '/v1/cluster/status',
          action: 'cluster:status:read',
          resource: () => ({ kind: 'status' }),
          handle: async () => {
            const view = await members();
            const nodes = await clusterStatus(view);
            // This node answered among the members; its entry is the components' status.
            const own = nodes[identity.nodeId] as { components?: Record<string, unknown> } | undefined;
            return { self: identity.nodeId, members: view, components: own?.components ?? (await componentStatus()), nodes };
          },
        },
        {
          method: 'GET',
          path: '/v1/cluster/members',
          action: 'cluster:members:read',
          resource: () => ({ kind: 'members' }),
          handle: async () => ({ self: identity.nodeId, members: await members() }),
        },
        {
          method: 'POST',
          path: '/v1/cluster/admit',
          action: 'cluster:members:admit',
          resource: () => ({ kind: 'members' }),
          handle: async (req) => {
            const address = (req.body as { address?: unknown } | undefined)?.address;
            if (typeof address !== 'string') throw new UltraError('InvalidArgument', 'expected { "address": "<multiaddr ending in /p2p/<peer id>>" }');
            return { admitted: await system.ask(membership, { type: 'admit', address }, { timeoutMs: 5_000 }) };
          },
        },
      ],
      gate,
      log,
      tls,
    });
    const bound = await server.listen(config.http.port, config.http.host);
    cleanups.unshift(() => server.close());
    const endpoint: NodeEndpoint = { node: identity.nodeId, http: apiUrl(tls, bound.address, bound.port), addresses, pid: process.pid, components: Object.assign({}, ...[...running.values()].map((c) => c.endpoints)) };
    const endpointFile = join(config.dataDir, ENDPOINT_FILE);
    writeFileSync(endpointFile, `${JSON.stringify(endpoint, null, 2)}\n`);
    cleanups.unshift(() => rmSync(endpointFile, { force: true }));
    log.info({ http: endpoint.http, addresses, components: config.components }, 'node started');
    if (rejoining) cleanups.unshift(watchRejoin(env, log, config.dataDir, [...running.values()]));

    let stopping: Promise<boolean> | undefined;
    return {
      nodeId: identity.nodeId,
      endpoint,
      system,
      log,
      stop: (deadlineMs = 10_000) =>
        (stopping ??= (async () => {
          shutdownDeadlineMs = deadlineMs;
          for (const cleanup of cleanups) await cleanup();
          log.info({ completed: shutdownCompleted }, 'node stopped');
          return shutdownCompleted;
        })()),
    };
  } catch (error) {
    for (const cleanup of cleanups) await cleanup();
    throw error;
  }
}
