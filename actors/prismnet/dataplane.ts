// The per-node dataplane actor: makes this host match the intent recorded in flaredb for the ports
// bound to this node, through the configured NetworkDriver. It is level-triggered — every pass
// computes the whole desired state and the driver changes only what differs — so it converges
// after a restart, after a missed change event, and after someone deletes a bridge by hand (the
// periodic resync finds it). Passes are serialized (the actor handles one message at a time) and
// coalesced: any number of changes and sync requests queued during a pass are served by the next.
// It writes each port's status (active / down / error with the reason) back to the port record.
import { defineActor, type ActorRef, type Behavior, type DeferredReply } from '../../runtime/actors/index.ts';
import type { ReceptionistMsg } from '../../runtime/cluster/receptionist.ts';
import { UltraError } from '../../runtime/errors.ts';
import type { Cidr } from '../../hostdrivers/network/ipv4.ts';
import type { NetworkDriver } from '../../hostdrivers/network/driver.ts';
import type { ChangeFeed } from '../flaredb/client/strong-kv.ts';
import { DATAPLANE_SERVICE, type DataplaneMsg, type DataplanePortReport, type DataplaneStatus } from './client/messages.ts';
import { buildHostIntent, type ProjectRecords } from './core/intent-builder.ts';
import { tenantKey, type Port } from './core/model.ts';
import { deleteIfPresent, type PrismnetStore } from './store.ts';

export interface DataplaneOptions {
  readonly node: string;
  readonly store: PrismnetStore;
  readonly driver: NetworkDriver;
  readonly transitPool: Cidr;
  /** Registered here under `prismnet-dataplane` so controllers anywhere can reach this node's dataplane. */
  readonly receptionist?: ActorRef<ReceptionistMsg>;
  /** Full reconcile period, which also repairs drift nobody reported (default 15 s). */
  readonly resyncMs?: number;
  /** How long a burst of change events is gathered before a pass (default 25 ms). */
  readonly debounceMs?: number;
}

interface Waiter {
  readonly portId: string | undefined;
  readonly reply: DeferredReply<DataplanePortReport | null>;
}

interface State {
  readonly feeds: ChangeFeed[];
  readonly waiters: Waiter[];
  reports: Map<string, DataplanePortReport>;
  /** Port record versions this actor wrote (status updates): their change events are our own echo. */
  readonly written: Map<string, number>;
  passQueued: boolean;
  passes: number;
  lastPassMs: number | null;
  lastError: string | null;
  retryMs: number;
}

const WATCHED_TABLES = ['vpcs', 'subnets', 'ports', 'securityGroups', 'rules', 'routers', 'bindings'] as const;
const MAX_RETRY_MS = 30_000;

export function dataplaneActor(options: DataplaneOptions): Behavior<State, DataplaneMsg> {
  const { node, store, driver } = options;
  const resyncMs = options.resyncMs ?? 15_000;
  const debounceMs = options.debounceMs ?? 25;
  return defineActor<State, DataplaneMsg>({
    async init(ctx) {
      const self = ctx.self;
      const system = ctx.system;
      const feeds: ChangeFeed[] = [];
      for (const name of WATCHED_TABLES) {
        const table = store[name] as { watch: (onChange: (c: { type: string; item?: { id: string; version: number } }) => void, onReset: () => void) => Promise<ChangeFeed> };
        feeds.push(
          await table.watch(
            (change) => system.tell(self, { type: 'prismnet.dataplane.changed', ...(name === 'ports' && change.item !== undefined ? { portId: change.item.id, version: change.item.version } : {}) }),
            () => system.tell(self, { type: 'prismnet.dataplane.feed-reset' }),
          ),
        );
      }
      if (options.receptionist !== undefined) ctx.tell(options.receptionist, { type: 'register', service: DATAPLANE_SERVICE, ref: self });
      ctx.timers.startPeriodic('resync', { type: 'prismnet.dataplane.pass' }, resyncMs);
      // Converge at once after a (re)start: the host may have drifted while nobody watched.
      ctx.tell(self, { type: 'prismnet.dataplane.pass' });
      return { feeds, waiters: [], reports: new Map(), written: new Map(), passQueued: true, passes: 0, lastPassMs: null, lastError: null, retryMs: 250 };
    },

    async receive(state, msg, ctx) {
      switch (msg.type) {
        case 'prismnet.dataplane.changed':
          if (msg.portId !== undefined && state.written.get(msg.portId) === msg.version) return state;
          if (!state.passQueued) {
            state.passQueued = true;
            ctx.timers.startSingle('debounce', { type: 'prismnet.dataplane.pass' }, debounceMs);
          }
          return state;
        case 'prismnet.dataplane.feed-reset':
          ctx.log.info('prismnet dataplane: change feed reset; reconciling');
          ctx.tell(ctx.self, { type: 'prismnet.dataplane.pass' });
          return state;
        case 'prismnet.dataplane.sync':
          state.waiters.push({ portId: msg.portId, reply: ctx.deferReply(msg) });
          if (!state.passQueued) {
            state.passQueued = true;
            ctx.tell(ctx.self, { type: 'prismnet.dataplane.pass' });
          }
          return state;
        case 'prismnet.dataplane.pass':
          return runPass(state, ctx);
        case 'prismnet.dataplane.probe': {
          const result = await driver.probe({ vpcId: msg.vpcId, subnetId: msg.subnetId, ip: msg.ip }, msg.timeoutMs);
          ctx.reply(msg, result);
          return state;
        }
        case 'prismnet.dataplane.status': {
          const status: DataplaneStatus = {
            node,
            driver: driver.kind,
            passes: state.passes,
            lastPassMs: state.lastPassMs,
            lastError: state.lastError,
            ports: state.reports.size,
            activePorts: [...state.reports.values()].filter((r) => r.state === 'active').length,
          };
          ctx.reply(msg, status);
          return state;
        }
      }
    },

    onStop(state) {
      for (const feed of state.feeds) feed.cancel();
      for (const waiter of state.waiters.splice(0)) waiter.reply.error(new UltraError('Unavailable', `the prismnet dataplane on ${node} stopped; retry`));
    },
  });

  async function runPass(state: State, ctx: Parameters<Behavior<State, DataplaneMsg>['receive']>[2]): Promise<State> {
    state.passQueued = false;
    ctx.timers.cancel('debounce');
    const waiters = state.waiters.splice(0);
    const started = ctx.env.monotonicNow();
    const metrics = dataplaneMetrics(ctx.system.metrics);
    try {
      const projects = await loadProjects(store, node);
      const built = buildHostIntent(node, projects, options.transitPool);
      const applied = await driver.apply(built.intent);
      const reports = new Map<string, DataplanePortReport>();
      for (const port of built.boundPorts) {
        const problem = built.problems.get(port.id);
        const realized = applied.ports.get(port.id);
        const report: DataplanePortReport = problem !== undefined ? { state: 'error', message: problem, device: '' } : (realized ?? { state: 'error', message: 'the driver did not realize the port', device: '' });
        reports.set(port.id, report);
        await writeStatus(state, port, report);
      }
      state.reports = reports;
      state.passes++;
      state.lastError = null;
      state.retryMs = 250;
      state.lastPassMs = ctx.env.monotonicNow() - started;
      metrics.passes.inc();
      metrics.seconds.observe(state.lastPassMs / 1000);
      metrics.changes.inc(applied.changes);
      for (const s of ['active', 'down', 'error'] as const) metrics.ports.labels({ state: s }).set([...reports.values()].filter((r) => r.state === s).length);
      if (applied.changes > 0) ctx.log.debug({ changes: applied.changes, ms: state.lastPassMs, ports: reports.size }, 'prismnet dataplane: pass applied changes');
      for (const waiter of waiters) waiter.reply.ok(waiter.portId === undefined ? null : (reports.get(waiter.portId) ?? null));
    } catch (error) {
      const err = UltraError.from(error);
      state.lastError = err.message;
      metrics.failures.inc();
      ctx.log.warn({ err: error, retryMs: state.retryMs }, 'prismnet dataplane: pass failed; retrying');
      for (const waiter of waiters) waiter.reply.error(err);
      ctx.timers.startSingle('retry', { type: 'prismnet.dataplane.pass' }, state.retryMs);
      state.retryMs = Math.min(state.retryMs * 2, MAX_RETRY_MS);
    }
    return state;
  }

  async function writeStatus(state: State, port: Port, report: DataplanePortReport): Promise<void> {
    const status = report.state;
    const message = report.state === 'error' ? report.message : undefined;
    if (port.status === status && port.statusMessage === message) return;
    const key = tenantKey(port.org, port.project, port.id);
    await deleteIfPresent(async () => {
      const written = await store.ports.update(key, (p) => {
        // Unbound or moved meanwhile: the record is no longer ours to mark.
        if (p.binding?.node !== node) return p;
        const { statusMessage: _, ...rest } = p;
        return message === undefined ? { ...rest, status } : { ...rest, status, statusMessage: message };
      });
      state.written.set(key, written.version);
    });
  }
}

/** The records of every project with a port bound to `node` (found through the binding index). */
export async function loadProjects(store: PrismnetStore, node: string): Promise<ProjectRecords[]> {
  const scopes = new Map<string, { org: string; project: string }>();
  for (const entry of await store.bindings.listAll(`${node}/`)) scopes.set(`${entry.record.org}/${entry.record.project}`, entry.record);
  const out: ProjectRecords[] = [];
  for (const [prefix] of [...scopes].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const all = async <T>(table: { listAll(prefix: string): Promise<Array<{ record: T }>> }) => (await table.listAll(`${prefix}/`)).map((r) => r.record);
    const [vpcs, subnets, ports, groups, rules, routers] = await Promise.all([all(store.vpcs), all(store.subnets), all(store.ports), all(store.securityGroups), all(store.rules), all(store.routers)]);
    out.push({ vpcs, subnets, ports, groups, rules, routers });
  }
  return out;
}

function dataplaneMetrics(registry: import('../../runtime/metrics/metrics-registry.ts').MetricsRegistry) {
  return {
    passes: registry.counter({ name: 'ultracloud_prismnet_dataplane_passes_total', help: 'Reconcile passes of the prismnet dataplane that completed.' }),
    failures: registry.counter({ name: 'ultracloud_prismnet_dataplane_pass_failures_total', help: 'Reconcile passes of the prismnet dataplane that failed (retried with backoff).' }),
    changes: registry.counter({ name: 'ultracloud_prismnet_dataplane_host_changes_total', help: 'Host changes the prismnet dataplane made (0 per pass when the host matched).' }),
    seconds: registry.histogram({ name: 'ultracloud_prismnet_dataplane_pass_seconds', help: 'Duration of prismnet dataplane reconcile passes.' }),
    ports: registry.gauge({ name: 'ultracloud_prismnet_ports', help: 'Ports bound to this node by state after the latest pass.', labelNames: ['state'] }),
  };
}
