// Location transparency across worker_threads: the same behavior, placed locally or on a worker,
// answers the same tells and asks; refs travel in messages both ways; death-watch sees the thread go.
import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem, defineActor, type ActorRef, type AnyRef, type Terminated } from '../../../runtime/actors/index.ts';
import { realEnv } from '../../../runtime/env/real-env.ts';
import { ClusterRouter } from '../../../transports/cluster-router.ts';
import { WorkerNode } from '../../../transports/worker/worker-node.ts';
import { counter, type CounterMsg } from '../../support/worker-actors.ts';

const moduleUrl = new URL('../../support/worker-actors.ts', import.meta.url);
let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(): Promise<{ system: ActorSystem; worker: WorkerNode }> {
  const system = new ActorSystem({ nodeId: 'n1', env: realEnv() });
  const router = new ClusterRouter(system);
  const worker = await WorkerNode.start(system, router, { name: 'w1' });
  cleanup.push(() => system.shutdown({ deadlineMs: 2_000 }), () => worker.terminate());
  return { system, worker };
}

describe('worker-thread placement', () => {
  for (const placement of ['local', 'worker'] as const) {
    it(`answers tells and asks the same way when placed ${placement}`, async () => {
      const { system, worker } = await setup();
      const ref: ActorRef<CounterMsg> = placement === 'local' ? system.spawn(counter, { name: 'c' }) : await worker.spawn<CounterMsg>(moduleUrl, 'counter', { name: 'c' });
      expect(ref.node).toBe(placement === 'local' ? 'n1' : 'n1~w1');
      for (let i = 1; i <= 1000; i++) system.tell(ref, { type: 'inc', by: i });
      expect(await system.ask(ref, { type: 'get' }, { timeoutMs: 5_000 })).toBe(500_500);
      const unknown = { ...ref, uid: ref.uid + 12345 };
      await expect(system.ask(unknown, { type: 'get' }, { timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'NotFound' });
    });
  }

  it('lets a worker actor ask a main-thread actor whose ref came inside a message', async () => {
    const { system, worker } = await setup();
    const local = system.spawn(counter, { name: 'local' });
    system.tell(local, { type: 'inc', by: 42 });
    const remote = await worker.spawn<CounterMsg>(moduleUrl, 'counter', { name: 'remote' });
    expect(await system.ask(remote, { type: 'ask-other', other: local }, { timeoutMs: 5_000 })).toBe(42);
  });

  it('reports a failed spawn with a typed error', async () => {
    const { worker } = await setup();
    await expect(worker.spawn(moduleUrl, 'nope')).rejects.toMatchObject({ code: 'InvalidArgument' });
  });

  it('fires Terminated(node-down) for watched worker actors when the thread ends', async () => {
    const { system, worker } = await setup();
    const remote = await worker.spawn<CounterMsg>(moduleUrl, 'counter', { name: 'doomed' });
    const seen: Terminated[] = [];
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => (done = resolve));
    const watcher = defineActor<null, { type: 'watch'; ref: AnyRef } | Terminated>({
      init: () => null,
      receive(state, msg, ctx) {
        if (msg.type === 'watch') ctx.watch(msg.ref);
        else {
          seen.push(msg);
          done();
        }
        return state;
      },
    });
    const w = system.spawn(watcher);
    system.tell(w, { type: 'watch', ref: remote as AnyRef });
    // The watch is registered on the worker before the thread goes.
    expect(await system.ask(remote, { type: 'get' }, { timeoutMs: 5_000 })).toBe(0);
    await worker.terminate();
    await finished;
    expect(seen).toEqual([{ type: 'terminated', ref: remote, reason: 'node-down' }]);
  });

  it('fires Terminated(stopped) across the boundary when a worker actor stops', async () => {
    const { system, worker } = await setup();
    const remote = await worker.spawn<CounterMsg>(moduleUrl, 'counter', { name: 'crashy', restart: 'temporary' });
    let resolveSeen: (t: Terminated) => void = () => {};
    const seen = new Promise<Terminated>((resolve) => (resolveSeen = resolve));
    const watcher = defineActor<null, { type: 'watch'; ref: AnyRef } | Terminated>({
      init: () => null,
      receive(state, msg, ctx) {
        if (msg.type === 'watch') ctx.watch(msg.ref);
        else resolveSeen(msg);
        return state;
      },
    });
    system.tell(system.spawn(watcher), { type: 'watch', ref: remote as AnyRef });
    await system.ask(remote, { type: 'get' }, { timeoutMs: 5_000 });
    system.tell(remote, { type: 'crash' });
    expect(await seen).toMatchObject({ reason: 'failed', ref: { path: '/user/crashy', node: 'n1~w1' } });
  });

  it('fails asks pending on a worker at once when its thread ends, instead of waiting out the timeout', async () => {
    const { system, worker } = await setup();
    const remote = await worker.spawn<CounterMsg>(moduleUrl, 'counter', { name: 'silent' });
    const outcome = system.ask(remote, { type: 'hang' }, { timeoutMs: 60_000 }).then(() => 'ok', (e: { code: string }) => e.code);
    expect(await system.ask(remote, { type: 'get' }, { timeoutMs: 5_000 })).toBe(0);
    await worker.terminate();
    expect(await outcome).toBe('Unavailable');
  });
});
