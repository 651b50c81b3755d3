// One behavior test, three placements: the same actor spawned locally, on a worker thread, and on
// another node over libp2p must answer tells, asks, refs passed in messages and death-watch alike.
import { afterEach, describe, expect, it } from 'vitest';
import { defineActor, type ActorRef, type ActorSystem, type AnyRef, type Terminated } from '../../runtime/actors/index.ts';
import { ClusterRouter } from '../../transports/cluster-router.ts';
import { WorkerNode } from '../../transports/worker/worker-node.ts';
import { counter, type CounterMsg } from '../support/worker-actors.ts';
import { meshUp, mesh, TestCluster } from './libp2p-test-nodes.ts';

const moduleUrl = new URL('../support/worker-actors.ts', import.meta.url);
let cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

interface Placement {
  /** The system the test talks from. */
  readonly caller: ActorSystem;
  spawn(name: string): Promise<ActorRef<CounterMsg>>;
}

const placements: Record<string, () => Promise<Placement>> = {
  local: async () => {
    const cluster = await TestCluster.create();
    cleanups.push(() => cluster.cleanup());
    const a = await cluster.node('a', await cluster.clusterKey());
    return { caller: a.system, spawn: async (name) => a.system.spawn(counter, { name, restart: 'temporary' }) };
  },
  'worker thread': async () => {
    const cluster = await TestCluster.create();
    cleanups.push(() => cluster.cleanup());
    const a = await cluster.node('a', await cluster.clusterKey());
    const worker = await WorkerNode.start(a.system, a.router as ClusterRouter, { name: 'w1' });
    cleanups.push(() => worker.terminate());
    return { caller: a.system, spawn: (name) => worker.spawn<CounterMsg>(moduleUrl, 'counter', { name, restart: 'temporary' }) };
  },
  'another node (libp2p)': async () => {
    const cluster = await TestCluster.create();
    cleanups.push(() => cluster.cleanup());
    const key = await cluster.clusterKey();
    const a = await cluster.node('a', key);
    const b = await cluster.node('b', key);
    mesh([a, b]);
    await meshUp([a, b]);
    return { caller: a.system, spawn: async (name) => b.system.spawn(counter, { name, restart: 'temporary' }) };
  },
};

describe.each(Object.keys(placements))('an actor placed on %s', (placementName) => {
  it('answers tells and asks, asks back through a ref it was sent, and reports its death to a watcher', async () => {
    const { caller, spawn } = await placements[placementName]!();
    const target = await spawn('target');
    for (let i = 1; i <= 100; i++) caller.tell(target, { type: 'inc', by: i });
    expect(await caller.ask(target, { type: 'get' }, { timeoutMs: 5_000 })).toBe(5050);

    const home = caller.spawn(counter, { name: 'home' });
    caller.tell(home, { type: 'inc', by: 7 });
    expect(await caller.ask(target, { type: 'ask-other', other: home }, { timeoutMs: 5_000 })).toBe(7);

    let seen: (t: Terminated) => void = () => {};
    const terminated = new Promise<Terminated>((resolve) => (seen = resolve));
    const watcher = caller.spawn(
      defineActor<null, { type: 'watch'; ref: AnyRef } | Terminated>({
        init: () => null,
        receive(state, msg, ctx) {
          if (msg.type === 'watch') ctx.watch(msg.ref);
          else seen(msg);
          return state;
        },
      }),
    );
    caller.tell(watcher, { type: 'watch', ref: target as AnyRef });
    await caller.ask(target, { type: 'get' }, { timeoutMs: 5_000 });
    caller.tell(target, { type: 'crash' });
    expect(await terminated).toMatchObject({ reason: 'failed', ref: { path: '/user/target' } });
    await expect(caller.ask(target, { type: 'get' }, { timeoutMs: 5_000 })).rejects.toMatchObject({ code: expect.stringMatching(/NotFound|Unavailable/) });
  });
});
