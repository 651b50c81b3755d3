import { describe, expect, it } from 'vitest';
import { defineActor, oneForAll, oneForOne, restForOne, type ActorRef, type Query, type RestartType, type SupervisorSpec } from '../../../runtime/actors/index.ts';
import { UltraError } from '../../../runtime/errors.ts';
import { virtualSystem } from '../../support/virtual-system.ts';

type WorkerMsg = { type: 'crash' } | { type: 'inc' } | ({ type: 'get' } & Query<number>) | { type: 'quit' };

/** A worker that counts its starts (by name) in a shared journal so tests can see restarts. */
function worker(journal: string[], name: string) {
  return defineActor<{ n: number }, WorkerMsg>({
    init: () => {
      journal.push(`start ${name}`);
      return { n: 0 };
    },
    receive(state, msg, ctx) {
      switch (msg.type) {
        case 'crash':
          throw new UltraError('Internal', `${name} crashed`);
        case 'inc':
          return { n: state.n + 1 };
        case 'get':
          ctx.reply(msg, state.n);
          return state;
        case 'quit':
          ctx.stop();
          return state;
      }
    },
    onStop: () => {
      journal.push(`stop ${name}`);
    },
  });
}

type SupMsg = ({ type: 'kids' } & Query<Record<string, ActorRef<WorkerMsg>>>);

function supervisorOf(journal: string[], spec: SupervisorSpec, kids: Array<[string, RestartType]>, name = 'sup') {
  return defineActor<Record<string, ActorRef<WorkerMsg>>, SupMsg>({
    init: (ctx) => {
      journal.push(`start ${name}`);
      const refs: Record<string, ActorRef<WorkerMsg>> = {};
      for (const [kid, restart] of kids) refs[kid] = ctx.spawn(worker(journal, kid), { name: kid, restart });
      return refs;
    },
    receive(state, msg, ctx) {
      ctx.reply(msg, state);
      return state;
    },
    onStop: () => {
      journal.push(`stop ${name}`);
    },
    supervisor: spec,
  });
}

const fast = { minBackoffMs: 1, maxBackoffMs: 1, backoffJitter: 0 };

describe('supervision', () => {
  it('one-for-one restarts only the failed child, in place: same ref, fresh state, mailbox kept', async () => {
    const journal: string[] = [];
    const { system, idle } = virtualSystem();
    const sup = system.spawn(supervisorOf(journal, oneForOne(fast), [['a', 'permanent'], ['b', 'permanent']]));
    const kids = await system.ask(sup, { type: 'kids' }, { timeoutMs: 100 });
    system.tell(kids.a!, { type: 'inc' });
    system.tell(kids.b!, { type: 'inc' });
    system.tell(kids.a!, { type: 'crash' });
    system.tell(kids.a!, { type: 'inc' });
    await idle();
    expect(journal).toEqual(['start sup', 'start a', 'start b', 'stop a', 'start a']);
    expect(await system.ask(kids.a!, { type: 'get' }, { timeoutMs: 100 })).toBe(1);
    expect(await system.ask(kids.b!, { type: 'get' }, { timeoutMs: 100 })).toBe(1);
  });

  it('one-for-all restarts every sibling: stopped in reverse start order, started in start order', async () => {
    const journal: string[] = [];
    const { system, idle } = virtualSystem();
    const sup = system.spawn(supervisorOf(journal, oneForAll(fast), [['a', 'permanent'], ['b', 'permanent'], ['c', 'permanent']]));
    const kids = await system.ask(sup, { type: 'kids' }, { timeoutMs: 100 });
    journal.length = 0;
    system.tell(kids.b!, { type: 'crash' });
    await idle();
    expect(journal.filter((e) => e.startsWith('start'))).toEqual(['start a', 'start b', 'start c']);
    expect(journal.filter((e) => e.startsWith('stop')).sort()).toEqual(['stop a', 'stop b', 'stop c']);
  });

  it('rest-for-one restarts the failed child and those started after it, in order', async () => {
    const journal: string[] = [];
    const { system, idle } = virtualSystem();
    const sup = system.spawn(supervisorOf(journal, restForOne(fast), [['a', 'permanent'], ['b', 'permanent'], ['c', 'permanent']]));
    const kids = await system.ask(sup, { type: 'kids' }, { timeoutMs: 100 });
    journal.length = 0;
    system.tell(kids.b!, { type: 'crash' });
    await idle();
    expect(journal.filter((e) => e.startsWith('start'))).toEqual(['start b', 'start c']);
    expect(journal).not.toContain('stop a');
  });

  it('transient restarts after a failure but not after a normal stop; permanent restarts after both; temporary never', async () => {
    const journal: string[] = [];
    const { system, idle } = virtualSystem();
    const sup = system.spawn(supervisorOf(journal, oneForOne(fast), [['p', 'permanent'], ['t', 'transient'], ['x', 'temporary']]));
    const kids = await system.ask(sup, { type: 'kids' }, { timeoutMs: 100 });
    journal.length = 0;
    system.tell(kids.t!, { type: 'crash' });
    system.tell(kids.x!, { type: 'crash' });
    await idle();
    expect(journal.filter((e) => e.startsWith('start'))).toEqual(['start t']);
    journal.length = 0;
    system.tell(kids.p!, { type: 'quit' });
    system.tell(kids.t!, { type: 'quit' });
    await idle();
    expect(journal.filter((e) => e.startsWith('start'))).toEqual(['start p']);
    expect(system.lookup('/user/$1/t')).toBeUndefined();
    expect(system.lookup('/user/$1/x')).toBeUndefined();
    expect(system.lookup('/user/$1/p')).toBeDefined();
  });

  it('escalates to the grandparent once restart intensity is exceeded', async () => {
    const journal: string[] = [];
    const { system, idle } = virtualSystem();
    const inner = supervisorOf(journal, oneForOne({ ...fast, maxRestarts: 2, withinMs: 1_000 }), [['w', 'permanent']], 'inner');
    const outer = defineActor<ActorRef<SupMsg>, { type: 'noop' }>({
      init: (ctx) => {
        journal.push('start outer');
        return ctx.spawn(inner, { name: 'inner' });
      },
      receive: (s) => s,
      supervisor: oneForOne(fast),
    });
    system.spawn(outer, { name: 'outer' });
    await idle();
    const wPath = '/user/outer/inner/w';
    for (let i = 0; i < 3; i++) {
      system.tell(system.lookup<WorkerMsg>(wPath)!, { type: 'crash' });
      await idle();
    }
    // Two restarts are tolerated; the third failure escalates: inner itself restarts (with w).
    expect(journal.filter((e) => e === 'start inner')).toHaveLength(2);
    expect(journal.filter((e) => e === 'start w')).toHaveLength(4);
    expect(journal).not.toContain('stop outer');
  });

  it('the /user guardian restarts a failing top-level actor, and stops it past its intensity; the system stays up', async () => {
    const journal: string[] = [];
    const { system, idle } = virtualSystem();
    const sup = system.spawn(supervisorOf(journal, oneForOne({ ...fast, maxRestarts: 0 }), [['w', 'permanent']]), { name: 'sup' });
    await idle();
    for (let i = 0; i < 11; i++) {
      expect(system.lookup('/user/sup')).toBeDefined();
      system.tell(system.lookup<WorkerMsg>('/user/sup/w')!, { type: 'crash' });
      await idle();
    }
    expect(journal.filter((e) => e === 'start sup')).toHaveLength(11);
    expect(system.lookup('/user/sup')).toBeUndefined();
    const other = system.spawn(worker(journal, 'other'));
    system.tell(other, { type: 'inc' });
    expect(await system.ask(other, { type: 'get' }, { timeoutMs: 10 })).toBe(1);
    void sup;
  });

  it('resume keeps state and drops only the failing message; stop directive stops the child', async () => {
    const journal: string[] = [];
    const { system, idle } = virtualSystem();
    const resumeSup = system.spawn(supervisorOf(journal, oneForOne({ ...fast, decide: () => 'resume' }), [['r', 'permanent']], 'rs'));
    const stopSup = system.spawn(supervisorOf(journal, oneForOne({ ...fast, decide: () => 'stop' }), [['s', 'permanent']], 'ss'));
    const r = (await system.ask(resumeSup, { type: 'kids' }, { timeoutMs: 100 })).r!;
    const s = (await system.ask(stopSup, { type: 'kids' }, { timeoutMs: 100 })).s!;
    system.tell(r, { type: 'inc' });
    system.tell(r, { type: 'crash' });
    system.tell(r, { type: 'inc' });
    system.tell(s, { type: 'crash' });
    await idle();
    expect(await system.ask(r, { type: 'get' }, { timeoutMs: 100 })).toBe(2);
    expect(journal).toContain('stop s');
    await expect(system.ask(s, { type: 'get' }, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'Unavailable' });
  });

  it('answers the ask that crashed an actor with the error instead of letting it time out', async () => {
    const journal: string[] = [];
    const { system } = virtualSystem();
    const crashy = defineActor<null, { type: 'q' } & Query<number>>({
      init: () => null,
      receive: () => {
        throw new UltraError('FailedPrecondition', 'cannot');
      },
    });
    const ref = system.spawn(crashy);
    await expect(system.ask(ref, { type: 'q' }, { timeoutMs: 60_000 })).rejects.toMatchObject({ code: 'FailedPrecondition' });
    void journal;
  });

  it('waits an exponential backoff between restarts', async () => {
    const journal: string[] = [];
    const { system, scheduler, idle } = virtualSystem();
    const spec = oneForOne({ minBackoffMs: 100, maxBackoffMs: 10_000, backoffJitter: 0, maxRestarts: 10, withinMs: 60_000 });
    const sup = system.spawn(supervisorOf(journal, spec, [['w', 'permanent']]));
    const w = (await system.ask(sup, { type: 'kids' }, { timeoutMs: 100 })).w!;
    const startTimes: number[] = [];
    for (let i = 0; i < 3; i++) {
      system.tell(w, { type: 'crash' });
      const before = journal.length;
      await scheduler.runUntil(() => journal.length > before && journal.at(-1) === 'start w', 100_000);
      startTimes.push(scheduler.now);
    }
    await idle();
    expect([startTimes[0], startTimes[1]! - startTimes[0]!, startTimes[2]! - startTimes[1]!]).toEqual([100, 200, 400]);
  });

  it('a failing init is retried with backoff and escalates when it keeps failing', async () => {
    const { system, idle } = virtualSystem();
    let attempts = 0;
    const broken = defineActor<null, { type: 'x' }>({
      init: () => {
        attempts++;
        throw new UltraError('Unavailable', 'dependency missing');
      },
      receive: (s) => s,
    });
    const parent = defineActor<null, { type: 'x' }>({
      init: (ctx) => {
        ctx.spawn(broken, { name: 'broken' });
        return null;
      },
      receive: (s) => s,
      supervisor: oneForOne({ ...fast, maxRestarts: 3 }),
    });
    system.spawn(parent, { name: 'p', restart: 'temporary' });
    await idle();
    expect(attempts).toBe(4);
    expect(system.lookup('/user/p')).toBeUndefined();
  });
});

describe('stopping', () => {
  it('stops children before their parent, deepest first, and runs every onStop once', async () => {
    const journal: string[] = [];
    const { system, idle } = virtualSystem();
    const leaf = (name: string) =>
      defineActor<null, { type: 'x' }>({
        init: () => null,
        receive: (s) => s,
        onStop: () => {
          journal.push(name);
        },
      });
    const mid = defineActor<null, { type: 'x' }>({
      init: (ctx) => {
        ctx.spawn(leaf('leaf1'), { name: 'l1' });
        ctx.spawn(leaf('leaf2'), { name: 'l2' });
        return null;
      },
      receive: (s) => s,
      onStop: () => {
        journal.push('mid');
      },
    });
    const ref = system.spawn(mid, { name: 'mid' });
    await idle();
    await system.stop(ref);
    expect(journal).toEqual(['leaf2', 'leaf1', 'mid']);
  });

  it('shutdown waits for async onStop hooks and reports a missed deadline', async () => {
    const { system, advance } = virtualSystem();
    const slowStop = (ms: number) =>
      defineActor<null, { type: 'x' }>({
        init: () => null,
        receive: (s) => s,
        onStop: (_s, ctx) => new Promise<void>((resolve) => ctx.env.setTimer(ms, resolve)),
      });
    system.spawn(slowStop(50), { name: 'quick' });
    system.spawn(slowStop(5_000), { name: 'stuck' });
    const result = system.shutdown({ deadlineMs: 1_000 });
    await advance(2_000);
    expect(await result).toEqual({ completed: false, stillRunning: expect.arrayContaining(['/user', '/user/stuck']) });
    expect(() => system.spawn(slowStop(1))).toThrow(expect.objectContaining({ code: 'Unavailable' }));
  });

  it('cancels timers on stop and on restart; a cancelled timer\'s queued message is discarded', async () => {
    const { system, advance } = virtualSystem();
    const ticks: number[] = [];
    type Msg = { type: 'tick' } | { type: 'crash' } | { type: 'cancel' };
    const ticker = defineActor<null, Msg>({
      init: (ctx) => {
        ctx.timers.startPeriodic('tick', { type: 'tick' }, 100);
        return null;
      },
      receive(s, msg, ctx) {
        if (msg.type === 'tick') ticks.push(ctx.env.monotonicNow());
        if (msg.type === 'crash') throw new Error('crash');
        if (msg.type === 'cancel') ctx.timers.cancel('tick');
        return s;
      },
    });
    const parent = defineActor<ActorRef<Msg>, { type: 'x' }>({
      init: (ctx) => ctx.spawn(ticker, { name: 't' }),
      receive: (s) => s,
      supervisor: oneForOne({ minBackoffMs: 1_000, maxBackoffMs: 1_000, backoffJitter: 0 }),
    });
    system.spawn(parent, { name: 'p' });
    await advance(350);
    expect(ticks).toEqual([100, 200, 300]);
    system.tell(system.lookup<Msg>('/user/p/t')!, { type: 'crash' });
    await advance(1_000);
    expect(ticks).toEqual([100, 200, 300]);
    await advance(150);
    expect(ticks).toEqual([100, 200, 300, 1_450]);
    system.tell(system.lookup<Msg>('/user/p/t')!, { type: 'cancel' });
    await advance(1_000);
    expect(ticks).toHaveLength(4);
  });
});

describe('replies and failures', () => {
  it('does not answer an ask twice when the handler replied and then failed', async () => {
    const { system, idle } = virtualSystem();
    const replies: unknown[] = [];
    const flaky = defineActor<null, { type: 'q' } & Query<number>>({
      init: () => null,
      receive(state, msg, ctx) {
        ctx.reply(msg, 7);
        throw new Error('after reply');
      },
    });
    const ref = system.spawn(flaky);
    const sendReply = system.sendReply.bind(system);
    system.sendReply = (address, reply) => {
      replies.push(reply);
      sendReply(address, reply);
    };
    expect(await system.ask(ref, { type: 'q' }, { timeoutMs: 100 })).toBe(7);
    await idle();
    expect(replies).toEqual([{ ok: true, value: 7 }]);
  });

  it('refuses reply() outside the handler of the message (use deferReply)', async () => {
    const { system, advance } = virtualSystem();
    let late: (() => void) | undefined;
    const errors: string[] = [];
    const lazy = defineActor<null, { type: 'q' } & Query<number>>({
      init: () => null,
      receive(state, msg, ctx) {
        late = () => {
          try {
            ctx.reply(msg, 1);
          } catch (error) {
            errors.push((error as UltraError).code);
          }
        };
        return state;
      },
    });
    const ref = system.spawn(lazy);
    const asked = system.ask(ref, { type: 'q' }, { timeoutMs: 100 }).catch((e: UltraError) => e.code);
    await advance(1);
    late!();
    await advance(200);
    expect(errors).toEqual(['FailedPrecondition']);
    expect(await asked).toBe('DeadlineExceeded');
  });
});
