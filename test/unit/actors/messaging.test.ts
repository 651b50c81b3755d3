import { describe, expect, expectTypeOf, it } from 'vitest';
import { defineActor, type Query, type Terminated } from '../../../runtime/actors/index.ts';
import { UltraError } from '../../../runtime/errors.ts';
import { virtualSystem } from '../../support/virtual-system.ts';

type CounterMsg =
  | { type: 'inc'; by?: number }
  | ({ type: 'get' } & Query<number>)
  | ({ type: 'boom' } & Query<number>)
  | ({ type: 'slow-get'; delayMs: number } & Query<number>);

const counter = defineActor<{ n: number }, CounterMsg>({
  init: () => ({ n: 0 }),
  receive(state, msg, ctx) {
    switch (msg.type) {
      case 'inc':
        return { n: state.n + (msg.by ?? 1) };
      case 'get':
        ctx.reply(msg, state.n);
        return state;
      case 'boom':
        ctx.replyError(msg, new UltraError('FailedPrecondition', 'no booms today'));
        return state;
      case 'slow-get': {
        const reply = ctx.deferReply(msg);
        ctx.env.setTimer(msg.delayMs, () => reply.ok(state.n));
        return state;
      }
    }
  },
});

describe('tell and ask', () => {
  it('delivers tells in order and answers a typed ask', async () => {
    const { system, idle } = virtualSystem();
    const ref = system.spawn(counter, { name: 'counter' });
    for (let i = 0; i < 100; i++) system.tell(ref, { type: 'inc' });
    system.tell(ref, { type: 'inc', by: 5 });
    const n: number = await system.ask(ref, { type: 'get' }, { timeoutMs: 1000 });
    expect(n).toBe(105);
    await idle();
    expect(ref.path).toBe('/user/counter');
    expect(ref.node).toBe('local');
  });

  it('refs are plain data: a JSON round-tripped ref still reaches the actor', async () => {
    const { system } = virtualSystem();
    const ref = system.spawn(counter, { name: 'c' });
    const copy = JSON.parse(JSON.stringify(ref)) as typeof ref;
    expect(Object.keys(copy).sort()).toEqual(['node', 'path', 'uid']);
    system.tell(copy, { type: 'inc', by: 3 });
    expect(await system.ask(copy, { type: 'get' }, { timeoutMs: 100 })).toBe(3);
  });

  it('does not take a reply meant for an earlier process of the same node: ask ids do not restart at 1', async () => {
    // A restarted node's first asks would otherwise carry the ids its previous process used, and a
    // peer's late reply to one of those would settle an unrelated new ask.
    const { system, advance } = virtualSystem(7, { nodeId: 'n' });
    const silent = system.spawn(defineActor<null, { type: 'get' } & Query<number>>({ init: () => null, receive: (state) => state }));
    const asked = system.ask(silent, { type: 'get' }, { timeoutMs: 50 });
    const outcome = expect(asked).rejects.toMatchObject({ code: 'DeadlineExceeded' });
    for (let id = 1; id <= 3; id++) system.deliverReply(id, { ok: true, value: 'a reply from the previous process' });
    await advance(100);
    await outcome;
  });

  it('rejects an ask with the error the actor replied', async () => {
    const { system } = virtualSystem();
    const ref = system.spawn(counter);
    await expect(system.ask(ref, { type: 'boom' }, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'FailedPrecondition', message: 'no booms today' });
  });

  it('times out an unanswered ask at the deadline, in virtual time', async () => {
    const { system, scheduler, advance } = virtualSystem();
    const ref = system.spawn(counter);
    const asked = system.ask(ref, { type: 'slow-get', delayMs: 5_000 }, { timeoutMs: 1_000 });
    const outcome = asked.then(
      () => 'ok',
      (e: UltraError) => `${e.code}@${scheduler.now}`,
    );
    await advance(10_000);
    expect(await outcome).toBe('DeadlineExceeded@1000');
  });

  it('answers a deferred reply after async work', async () => {
    const { system, advance } = virtualSystem();
    const ref = system.spawn(counter);
    system.tell(ref, { type: 'inc' });
    const asked = system.ask(ref, { type: 'slow-get', delayMs: 50 }, { timeoutMs: 1_000 });
    await advance(100);
    expect(await asked).toBe(1);
  });

  it('fails an ask to a missing actor at once with NotFound, and counts a dead letter', async () => {
    const { system } = virtualSystem();
    const ref = system.spawn(counter, { name: 'gone' });
    await system.stop(ref);
    await expect(system.ask(ref, { type: 'get' }, { timeoutMs: 60_000 })).rejects.toMatchObject({ code: 'Unavailable' });
    const ghost = { node: 'local', path: '/user/nobody', uid: 1 };
    await expect(system.ask(ghost, { type: 'get' } as never, { timeoutMs: 60_000 })).rejects.toMatchObject({ code: 'NotFound' });
    expect(system.deadLetterCount).toBe(2);
  });

  it('refuses invalid ask timeouts with InvalidArgument', () => {
    const { system } = virtualSystem();
    const ref = system.spawn(counter);
    expect(() => system.ask(ref, { type: 'get' }, { timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => system.ask(ref, { type: 'get' }, { timeoutMs: Number.NaN })).toThrow(UltraError);
  });

  it('refuses duplicate and malformed names', () => {
    const { system } = virtualSystem();
    system.spawn(counter, { name: 'a' });
    expect(() => system.spawn(counter, { name: 'a' })).toThrow(expect.objectContaining({ code: 'AlreadyExists' }));
    for (const bad of ['', 'a/b', '$x', 'x'.repeat(200)]) {
      expect(() => system.spawn(counter, { name: bad })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    }
  });
});

describe('mailbox overflow', () => {
  it('drop-newest turns the arriving message into a dead letter and rejects its ask', async () => {
    const { system, idle } = virtualSystem();
    const ref = system.spawn(counter, { mailbox: { capacity: 3 } });
    const dead: string[] = [];
    system.onDeadLetter((d) => dead.push(d.reason));
    for (let i = 0; i < 5; i++) system.tell(ref, { type: 'inc' });
    const rejected = system.ask(ref, { type: 'get' }, { timeoutMs: 100 });
    await expect(rejected).rejects.toMatchObject({ code: 'ResourceExhausted' });
    await idle();
    expect(await system.ask(ref, { type: 'get' }, { timeoutMs: 100 })).toBe(3);
    expect(dead).toEqual(['mailbox full', 'mailbox full', 'mailbox full']);
  });

  it('drop-oldest keeps the newest messages', async () => {
    const { system, idle } = virtualSystem();
    const log: number[] = [];
    const recorder = defineActor<null, { type: 'n'; n: number } | ({ type: 'done' } & Query<number[]>)>({
      init: () => null,
      receive(state, msg, ctx) {
        if (msg.type === 'n') log.push(msg.n);
        else ctx.reply(msg, [...log]);
        return state;
      },
      mailbox: { capacity: 3, overflow: 'drop-oldest' },
    });
    const ref = system.spawn(recorder);
    await idle();
    for (let n = 1; n <= 6; n++) system.tell(ref, { type: 'n', n });
    await idle();
    expect(await system.ask(ref, { type: 'done' }, { timeoutMs: 100 })).toEqual([4, 5, 6]);
  });
});

describe('scheduling', () => {
  it('is fair: a flooded actor does not starve another', async () => {
    const { system, idle } = virtualSystem(1, { dispatcher: { throughputPerActor: 10, messagesPerTurn: 1_000 } });
    const order: string[] = [];
    const tagger = (tag: string) =>
      defineActor<null, { type: 'm' }>({
        init: () => null,
        receive: (s) => {
          order.push(tag);
          return s;
        },
      });
    const a = system.spawn(tagger('a'));
    const b = system.spawn(tagger('b'));
    for (let i = 0; i < 100; i++) system.tell(a, { type: 'm' });
    system.tell(b, { type: 'm' });
    await idle();
    expect(order.indexOf('b')).toBe(10);
  });

  it('yields to timers while a large backlog drains (drain budget)', async () => {
    const { system, env, idle } = virtualSystem(1, { dispatcher: { messagesPerTurn: 1_000 } });
    let handled = 0;
    let handledWhenTimerFired = -1;
    const sink = defineActor<null, { type: 'm' }>({
      init: () => null,
      receive: (s) => {
        handled++;
        return s;
      },
      mailbox: { capacity: 100_000 },
    });
    const ref = system.spawn(sink);
    await idle();
    for (let i = 0; i < 100_000; i++) system.tell(ref, { type: 'm' });
    env.setTimer(0, () => (handledWhenTimerFired = handled));
    await idle();
    expect(handled).toBe(100_000);
    expect(handledWhenTimerFired).toBeGreaterThan(0);
    expect(handledWhenTimerFired).toBeLessThanOrEqual(2_000);
  });

  it('never runs an async handler concurrently with the next message', async () => {
    const { system, advance } = virtualSystem();
    const events: string[] = [];
    const slow = defineActor<null, { type: 'm'; i: number }>({
      init: () => null,
      async receive(s, msg, ctx) {
        events.push(`start ${msg.i}`);
        await new Promise<void>((resolve) => ctx.env.setTimer(10, resolve));
        events.push(`end ${msg.i}`);
        return s;
      },
    });
    const ref = system.spawn(slow);
    system.tell(ref, { type: 'm', i: 1 });
    system.tell(ref, { type: 'm', i: 2 });
    await advance(100);
    expect(events).toEqual(['start 1', 'end 1', 'start 2', 'end 2']);
  });

  it('replays identically from the same seed', async () => {
    async function run(seed: number): Promise<string> {
      const { system, scheduler, idle, env } = virtualSystem(seed);
      const pinger = defineActor<{ left: number }, { type: 'tick' }>({
        init: (ctx) => {
          ctx.timers.startPeriodic('t', { type: 'tick' }, 10 + env.randomInt(10));
          return { left: 20 };
        },
        receive(state, _msg, ctx) {
          if (state.left === 1) ctx.stop();
          return { left: state.left - 1 };
        },
      });
      for (let i = 0; i < 5; i++) system.spawn(pinger, { restart: 'temporary' });
      await idle();
      return `${scheduler.traceHash}:${scheduler.now}`;
    }
    expect(await run(7)).toBe(await run(7));
    expect(await run(7)).not.toBe(await run(8));
  });
});

describe('stash', () => {
  it('holds messages until unstashAll, then delivers them first and in order', async () => {
    const { system } = virtualSystem();
    type Msg = { type: 'open' } | { type: 'item'; n: number } | ({ type: 'items' } & Query<number[]>);
    const gate = defineActor<{ open: boolean; items: number[] }, Msg>({
      init: () => ({ open: false, items: [] }),
      receive(state, msg, ctx) {
        switch (msg.type) {
          case 'open':
            ctx.unstashAll();
            return { ...state, open: true };
          case 'item':
            if (!state.open) {
              ctx.stash();
              return state;
            }
            return { ...state, items: [...state.items, msg.n] };
          case 'items':
            ctx.reply(msg, state.items);
            return state;
        }
      },
    });
    const ref = system.spawn(gate);
    for (const n of [1, 2, 3]) system.tell(ref, { type: 'item', n });
    system.tell(ref, { type: 'open' });
    system.tell(ref, { type: 'item', n: 4 });
    expect(await system.ask(ref, { type: 'items' }, { timeoutMs: 100 })).toEqual([1, 2, 3, 4]);
  });
});

describe('death-watch', () => {
  type WatcherMsg = { type: 'watch'; target: import('../../../runtime/actors/index.ts').AnyRef } | Terminated | { type: 'unwatch'; target: import('../../../runtime/actors/index.ts').AnyRef };
  const seen: Terminated[] = [];
  const watcher = defineActor<null, WatcherMsg>({
    init: () => null,
    receive(state, msg, ctx) {
      if (msg.type === 'watch') ctx.watch(msg.target);
      else if (msg.type === 'unwatch') ctx.unwatch(msg.target);
      else seen.push(msg);
      return state;
    },
  });

  it('delivers Terminated when a watched actor stops, and not-found for a dead ref', async () => {
    seen.length = 0;
    const { system, idle } = virtualSystem();
    const w = system.spawn(watcher);
    const target = system.spawn(counter, { name: 't' });
    system.tell(w, { type: 'watch', target });
    await idle();
    await system.stop(target);
    await idle();
    expect(seen).toEqual([{ type: 'terminated', ref: target, reason: 'stopped' }]);
    system.tell(w, { type: 'watch', target });
    await idle();
    expect(seen[1]).toMatchObject({ reason: 'not-found' });
  });

  it('delivers nothing after unwatch', async () => {
    seen.length = 0;
    const { system, idle } = virtualSystem();
    const w = system.spawn(watcher);
    const target = system.spawn(counter);
    system.tell(w, { type: 'watch', target });
    system.tell(w, { type: 'unwatch', target });
    await idle();
    await system.stop(target);
    await idle();
    expect(seen).toEqual([]);
  });

  it('maps Terminated to the watcher\'s own message type', async () => {
    const { system, idle } = virtualSystem();
    const got: string[] = [];
    type Msg = { type: 'lost'; path: string };
    const mapper = defineActor<null, Msg>({
      init: (ctx) => {
        const child = ctx.spawn(counter, { name: 'kid', restart: 'temporary' });
        ctx.watch(child, (t) => ({ type: 'lost', path: t.ref.path }));
        ctx.stop(child);
        return null;
      },
      receive(s, msg) {
        got.push(msg.path);
        return s;
      },
    });
    system.spawn(mapper, { name: 'm' });
    await idle();
    expect(got).toEqual(['/user/m/kid']);
  });
});

describe('system metrics', () => {
  it('exports live actors, pending asks and dead letters in Prometheus text', async () => {
    const { system } = virtualSystem();
    const ref = system.spawn(counter);
    await system.stop(ref);
    system.tell(ref, { type: 'inc' });
    const text = system.metrics.expose();
    expect(text).toContain('ultracloud_actor_dead_letters_total 1');
    expect(text).toMatch(/^ultracloud_actors 2$/m);
    expect(text).toContain('ultracloud_actor_pending_asks 0');
  });
});

describe('typed asks', () => {
  it('infers the reply type from the message literal, readonly discriminants included', () => {
    type Msg =
      | ({ readonly type: 'count' } & Query<number>)
      | ({ readonly type: 'name' } & Query<string>)
      | { readonly type: 'poke' };
    const { system } = virtualSystem();
    const ref = system.spawn(
      defineActor<null, Msg>({
        init: () => null,
        receive(state, msg, ctx) {
          if (msg.type === 'count') ctx.reply(msg, 1);
          if (msg.type === 'name') ctx.reply(msg, 'n');
          return state;
        },
      }),
    );
    expectTypeOf(system.ask(ref, { type: 'count' }, { timeoutMs: 10 })).resolves.toEqualTypeOf<number>();
    expectTypeOf(system.ask(ref, { type: 'name' }, { timeoutMs: 10 })).resolves.toEqualTypeOf<string>();
  });
});
