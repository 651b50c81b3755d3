import { describe, expect, it } from 'vitest';
import { defineActor, type ActorRef, type AnyRef, type Terminated } from '../../runtime/actors/index.ts';
import { Prng } from '../../runtime/env/prng.ts';
import { VirtualScheduler } from '../../runtime/env/virtual-env.ts';
import { SimCluster } from '../../sim/cluster.ts';
import { Counters } from '../../sim/counters.ts';
import { drawFaultPlan } from '../../sim/faults.ts';
import { NodeEnv } from '../../sim/node-env.ts';
import { settle } from './sim-harness.ts';

const STORE_KEY = new Uint8Array([1]);

type WatcherMsg = { readonly type: 'watch'; readonly ref: AnyRef } | Terminated;

/** Two nodes: `a` runs a watcher that logs every Terminated; each `b` incarnation runs a worker and writes its disk. */
function twoNodes() {
  const scheduler = new VirtualScheduler(7);
  const counters = new Counters();
  const log: string[] = [];
  const watched: Terminated[] = [];
  const workers: AnyRef[] = [];
  const worker = defineActor<null, { readonly type: 'tick' }>({
    init: (ctx) => {
      ctx.timers.startPeriodic('tick', { type: 'tick' }, 10);
      return null;
    },
    receive: (state, _msg, ctx) => {
      log.push(`tick ${ctx.self.node}`);
      return state;
    },
    onStop: () => {
      log.push('onStop');
    },
  });
  const watcher = defineActor<null, WatcherMsg>({
    init: () => null,
    receive: (state, msg, ctx) => {
      if (msg.type === 'watch') ctx.watch(msg.ref);
      else watched.push(msg);
      return state;
    },
  });
  let watcherRef: ActorRef<WatcherMsg> | undefined;
  const cluster = new SimCluster(
    { scheduler, plan: drawFaultPlan(1, [], 'safety'), counters, stream: (label) => new Prng(label) },
    {
      nodes: ['a', 'b'],
      network: { detectionTimeoutMs: 500, minLatencyMs: 1, maxLatencyMs: 2 },
      boot: (node) => {
        if (node.id === 'a') watcherRef = node.system.spawn(watcher);
        else workers.push(node.system.spawn(worker) as AnyRef);
      },
    },
  );
  const watch = (ref: AnyRef): void => cluster.node('a').system.tell(watcherRef!, { type: 'watch', ref });
  return { scheduler, counters, cluster, log, watched, workers, watch };
}

describe('simulated cluster', () => {
  it('crashes a node like a process kill: no onStop, its timers stop, peers hear node-down, its disk keeps what was synced', async () => {
    const { scheduler, cluster, log, watched, workers, watch } = twoNodes();
    const b = cluster.node('b');
    watch(workers[0]!);
    await settle(scheduler, b.disk.batch([{ type: 'put', key: STORE_KEY, value: new Uint8Array([1]) }], { sync: true }));
    await settle(scheduler, b.disk.batch([{ type: 'put', key: STORE_KEY, value: new Uint8Array([2]) }], { sync: false }));
    await scheduler.advance(35);
    const ticks = log.length;
    const crashedAt = scheduler.now;
    cluster.crash('b');
    await scheduler.advance(100);
    expect(log.length).toBe(ticks);
    expect(log).not.toContain('onStop');
    expect(watched).toEqual([{ type: 'terminated', ref: workers[0], reason: 'node-down' }]);
    expect(cluster.isUp('b')).toBe(false);
    expect(cluster.crashes).toEqual([{ node: 'b', incarnation: 1, at: crashedAt }]);
    cluster.restart('b');
    const b2 = cluster.node('b');
    expect(b2.incarnation).toBe(2);
    expect(b2.disk).toBe(b.disk);
    expect(workers[1]!.uid).not.toBe(workers[0]!.uid);
    // The synced write survives; the unsynced one after it may or may not have.
    expect([[1], [2]]).toContainEqual([...((await b2.disk.get(STORE_KEY)) ?? [])]);
  });

  it('pauses a node: its timers and deliveries wait, then run in order once it resumes', async () => {
    const { scheduler, cluster, log } = twoNodes();
    await scheduler.advance(25);
    cluster.pause('b');
    const before = log.length;
    await scheduler.advance(200);
    expect(log.length).toBe(before);
    cluster.resume('b');
    await scheduler.advance(1);
    expect(log.length).toBeGreaterThan(before);
  });

  it('quiesces: heals the network, resumes and restarts every node', async () => {
    const { scheduler, cluster } = twoNodes();
    cluster.network.block('a', 'b');
    cluster.pause('a');
    cluster.crash('b');
    cluster.quiesce();
    expect(cluster.isUp('b')).toBe(true);
    expect(cluster.isPaused('a')).toBe(false);
    await scheduler.advance(10);
    expect(cluster.network.healthyThroughout('a', 'b', 10, 10)).toBe(true);
  });
});

describe('node env', () => {
  it('keeps a timer cancelled while it waited out a pause from firing after all', async () => {
    const scheduler = new VirtualScheduler(1);
    const env = new NodeEnv(scheduler, { name: 'n#1' }, new Counters());
    const fired: string[] = [];
    const cancelled = env.setTimer(5, () => fired.push('cancelled'));
    env.setTimer(6, () => fired.push('kept'));
    env.pause();
    await scheduler.advance(10);
    expect(fired).toEqual([]);
    env.resume();
    cancelled.cancel();
    await scheduler.runUntilIdle();
    expect(fired).toEqual(['kept']);
  });

  it('fires BUGGIFY sites only until the faults stop, and counts each firing', () => {
    const counters = new Counters();
    const env = new NodeEnv(new VirtualScheduler(1), { name: 'n#1', buggify: { enabled: true, siteProbability: 1, fireProbability: 1 } }, counters);
    expect(env.buggify('site')).toBe(true);
    env.stopBuggify();
    expect(env.buggify('site')).toBe(false);
    expect(counters.get('fault.buggify')).toBe(1);
  });
});
