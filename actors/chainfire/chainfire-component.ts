// chainfire on one node, as a supervised actor tree:
//
//   /user/chainfire            supervisor (one-for-one)
//   ├── raft                   the Raft replica: durable log, applies commands to this node's Replica
//   ├── lease-keeper           on the leader: promotes leases after an election, proposes expiries
//   └── compactor              with auto compaction on (settings): on the leader, compacts the history
//
// The Replica (store, watch hub) outlives a raft restart, so watchers stay registered; the store
// itself is rebuilt from the durable log. API servers use the returned ChainfireService.
import { defineActor, oneForOne, type ActorRef, type ActorSystem } from '../../runtime/actors/index.ts';
import type { KvBackend } from '../../runtime/persistence/store.ts';
import { raftGroupActor } from '../../runtime/raft/raft-group-actor.ts';
import { AutoCompactionSchedule, type AutoCompaction } from './core/auto-compaction.ts';
import { etcdReason } from './core/errors.ts';
import type { MvccStoreOptions } from './core/mvcc-store.ts';
import { RaftChainfireService, raftReplicaRef } from './chainfire-service.ts';
import { Replica } from './replica.ts';

/**
 * Entries between two snapshots of the store (which then compact the Raft log): etcd's default
 * --snapshot-count. A snapshot encodes the whole store, history included, and stalls this
 * replica's writes while it is taken and written (0.2–0.6 s for 2–12 MB stores under the UC-04
 * bench's load; every 10,000 entries that was an estimated tenth to fifth of the put
 * throughput). The price is memory: the log since the last snapshot stays in memory too (an
 * estimated 30 MB at 100,000 small writes), and a restart replays up to that many entries.
 */
export const DEFAULT_SNAPSHOT_EVERY_ENTRIES = 100_000;

export interface ChainfireOptions {
  readonly nodeId: string;
  /** Every voter's node id (1, 3 or 5), this node's included. */
  readonly voters: readonly string[];
  readonly backend: KvBackend;
  readonly tickMs?: number;
  readonly snapshotEveryEntries?: number;
  readonly leaseCheckMs?: number;
  readonly store?: MvccStoreOptions;
  readonly clientUrls?: (member: string) => string[];
  readonly requestTimeoutMs?: number;
  /** This node lost its state and rejoins: its replica recovers before it votes (runtime/node/rejoin.ts). */
  readonly rejoining?: boolean;
  /** etcd's --auto-compaction-mode/-retention (core/auto-compaction.ts); off when undefined. */
  readonly autoCompaction?: AutoCompaction;
}

export interface Chainfire {
  readonly ref: ActorRef<{ readonly type: 'noop' }>;
  readonly service: RaftChainfireService;
  /** This node's store and watch hub (read-only use: tests, diagnostics). */
  readonly replica: Replica;
}

export function startChainfire(system: ActorSystem, options: ChainfireOptions): Chainfire {
  if (![1, 3, 5].includes(options.voters.length) || !options.voters.includes(options.nodeId)) {
    throw new Error(`chainfire needs 1, 3 or 5 voters including this node; got [${options.voters.join(', ')}]`);
  }
  const replica = new Replica(options.store);
  const service = new RaftChainfireService({ system, replica, memberId: options.nodeId, voters: options.voters, clientUrls: options.clientUrls, requestTimeoutMs: options.requestTimeoutMs });
  const leaseKeeper = defineActor<{ promotedTerm: number }, { readonly type: 'check' }>({
    init(ctx) {
      ctx.timers.startPeriodic('check', { type: 'check' }, options.leaseCheckMs ?? 500);
      return { promotedTerm: -1 };
    },
    async receive(state, _msg, ctx) {
      const view = await service.raftStatus().catch(() => undefined);
      if (view?.role !== 'leader') return state;
      try {
        if (view.term !== state.promotedTerm) {
          // A new leader restarts every lease's TTL, as etcd's lessor does on promotion.
          await service.propose({ type: 'lease-promote', now_ms: ctx.env.now() });
          state = { promotedTerm: view.term };
        }
        for (const id of replica.store.expiredLeases(ctx.env.now())) {
          await service.propose({ type: 'lease-expire', id, now_ms: ctx.env.now() });
        }
      } catch (error) {
        // Lost leadership mid-way: the next leader's keeper takes over.
        ctx.log.debug({ err: error }, 'lease check interrupted');
      }
      return state;
    },
  });
  const supervisor = defineActor<null, { readonly type: 'noop' }>({
    init(ctx) {
      ctx.spawn(
        raftGroupActor({
          group: 'chainfire',
          id: options.nodeId,
          voters: options.voters,
          peer: raftReplicaRef,
          backend: options.backend,
          stateMachine: () => replica.stateMachine(),
          tickMs: options.tickMs ?? 100,
          snapshotEveryEntries: options.snapshotEveryEntries ?? DEFAULT_SNAPSHOT_EVERY_ENTRIES,
          rejoining: options.rejoining ?? false,
        }),
        { name: 'raft' },
      );
      ctx.spawn(leaseKeeper, { name: 'lease-keeper' });
      if (options.autoCompaction !== undefined) ctx.spawn(compactor(service, replica, options.autoCompaction), { name: 'compactor' });
      return null;
    },
    receive: (state) => state,
    supervisor: oneForOne({ maxRestarts: 10, withinMs: 60_000 }),
  });
  const ref = system.spawn(supervisor, { name: 'chainfire' });
  return { ref, service, replica };
}

/**
 * Ticks an AutoCompactionSchedule: samples this replica's revision, and on the leader proposes the
 * compaction it says is due — an ordinary Compact, as a client's would be.
 */
function compactor(service: RaftChainfireService, replica: Replica, config: AutoCompaction) {
  return defineActor<AutoCompactionSchedule, { readonly type: 'tick' }>({
    init(ctx) {
      const schedule = new AutoCompactionSchedule(config, ctx.env.monotonicNow());
      ctx.timers.startPeriodic('tick', { type: 'tick' }, schedule.tickMs);
      ctx.log.info({ ...config, ...(config.mode === 'revision' ? { retention: String(config.retention) } : {}) }, 'chainfire auto compaction on');
      return schedule;
    },
    async receive(schedule, _msg, ctx) {
      const leader = (await service.raftStatus().catch(() => undefined))?.role === 'leader';
      const revision = schedule.tick(ctx.env.monotonicNow(), replica.store.revision, leader);
      if (revision === undefined) return schedule;
      try {
        await service.compact({ revision });
        ctx.log.info({ revision: String(revision) }, 'chainfire auto compaction: history compacted');
        schedule.done(ctx.env.monotonicNow(), revision, true);
      } catch (error) {
        // Compacted already (by a client, or a previous leader) is as good as done.
        const compacted = etcdReason(error) === 'compacted';
        if (!compacted) ctx.log.warn({ err: error, revision: String(revision) }, 'chainfire auto compaction failed; retrying at the next tick');
        schedule.done(ctx.env.monotonicNow(), revision, compacted);
      }
      return schedule;
    },
  });
}
