import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ActorSystem, Query } from '../../../runtime/actors/index.ts';
import { UltraError } from '../../../runtime/errors.ts';
import {
  Journal,
  MemoryBackend,
  SnapshotStore,
  definePersistentActor,
  type KvBackend,
  type PersistentActorSpec,
} from '../../../runtime/persistence/index.ts';
import { virtualSystem } from '../../support/virtual-system.ts';
import { ScriptedBackend } from './scripted-backend.ts';

interface Ledger {
  readonly total: number;
  readonly events: number;
}

type LedgerEvent = { readonly type: 'added'; readonly n: number } | { readonly type: 'doubled' };

type LedgerMsg =
  | ({ type: 'add'; n: number } & Query<number>)
  | ({ type: 'add-many'; ns: number[] } & Query<number>)
  | ({ type: 'double' } & Query<number>)
  | ({ type: 'get' } & Query<Ledger>)
  | ({ type: 'add-then-crash'; n: number } & Query<number>);

const applyLedger = (state: Ledger, event: LedgerEvent): Ledger =>
  event.type === 'added' ? { total: state.total + event.n, events: state.events + 1 } : { total: state.total * 2, events: state.events + 1 };

interface LedgerOptions {
  readonly backend: KvBackend;
  readonly snapshotBackend?: KvBackend;
  readonly id?: PersistentActorSpec<Ledger, LedgerMsg, LedgerEvent>['persistenceId'];
  readonly snapshotEvery?: number;
  readonly deleteEventsOnSnapshot?: boolean;
  /** Called before every applyEvent; throwing from it makes applyEvent fail. */
  readonly onApply?: (event: LedgerEvent) => void;
  /** Every afterPersist call, in order. */
  readonly acknowledged?: number[];
}

function ledger(options: LedgerOptions) {
  return definePersistentActor<Ledger, LedgerMsg, LedgerEvent>({
    persistenceId: options.id ?? 'ledger',
    initialState: { total: 0, events: 0 },
    journal: new Journal(options.backend),
    snapshots: new SnapshotStore(options.snapshotBackend ?? options.backend),
    snapshotEvery: options.snapshotEvery,
    deleteEventsOnSnapshot: options.deleteEventsOnSnapshot,
    applyEvent(state, event) {
      options.onApply?.(event);
      return applyLedger(state, event);
    },
    receiveCommand(state, msg, ctx) {
      const ack = (next: Ledger): void => {
        options.acknowledged?.push(next.total);
        if (msg.type !== 'get') ctx.reply(msg, next.total);
      };
      switch (msg.type) {
        case 'add':
          return { events: [{ type: 'added', n: msg.n }], afterPersist: ack };
        case 'add-many':
          return { events: msg.ns.map((n) => ({ type: 'added', n })), afterPersist: ack };
        case 'double':
          return { events: [{ type: 'doubled' }], afterPersist: ack };
        case 'get':
          ctx.reply(msg, state);
          return undefined;
        case 'add-then-crash':
          // The event is durable, then the process dies before the reply goes out.
          return {
            events: [{ type: 'added', n: msg.n }],
            afterPersist: () => {
              throw new UltraError('Internal', 'crashed before replying');
            },
          };
      }
    },
  });
}

const ask = { timeoutMs: 60_000 };

async function journalOf(backend: KvBackend, id = 'ledger'): Promise<number[]> {
  const seqs: number[] = [];
  for await (const entry of new Journal(backend).replay(id)) seqs.push(entry.seq);
  return seqs;
}

function restartsOf(system: ActorSystem, path: string): number | undefined {
  return system.actorTree()[0]?.children.find((c) => c.path === path)?.restarts;
}

describe('persistent actor', () => {
  it('recovers from the latest snapshot plus the events after it when spawned again', async () => {
    const { system } = virtualSystem();
    const backend = new MemoryBackend();
    const spec = { backend, id: (ctx: { self: { path: string } }) => ctx.self.path, snapshotEvery: 3, deleteEventsOnSnapshot: true };
    const first = system.spawn(ledger(spec), { name: 'acct' });
    for (let n = 1; n <= 7; n++) expect(await system.ask(first, { type: 'add', n }, ask)).toBe((n * (n + 1)) / 2);
    await system.stop(first);

    expect(await new SnapshotStore(backend).latest('/user/acct')).toEqual({ seq: 6, state: { total: 21, events: 6 } });
    expect(await journalOf(backend, '/user/acct')).toEqual([7]);
    expect(await new Journal(backend).highestSeq('/user/acct')).toBe(7);

    const replayed: LedgerEvent[] = [];
    const second = system.spawn(ledger({ ...spec, onApply: (e) => replayed.push(e) }), { name: 'acct' });
    expect(await system.ask(second, { type: 'get' }, ask)).toEqual({ total: 28, events: 7 });
    expect(replayed).toEqual([{ type: 'added', n: 7 }]);
    expect(await system.ask(second, { type: 'double' }, ask)).toBe(56);
  });

  it('writes with sync, applies and replies only after the write, and handles no command meanwhile', async () => {
    const { system, advance } = virtualSystem();
    const backend = new ScriptedBackend();
    const acknowledged: number[] = [];
    const ref = system.spawn(ledger({ backend, acknowledged }));
    await advance(0);
    backend.gated = true;
    const added = system.ask(ref, { type: 'add', n: 5 }, ask);
    const got = system.ask(ref, { type: 'get' }, ask);
    const settled: string[] = [];
    void added.then(() => settled.push('add'));
    void got.then(() => settled.push('get'));
    await advance(0);
    expect(backend.held).toBe(1);
    expect(acknowledged).toEqual([]);
    expect(settled).toEqual([]);

    backend.release();
    expect(await added).toBe(5);
    expect(await got).toEqual({ total: 5, events: 1 });
    expect(settled).toEqual(['add', 'get']);
    expect(backend.writes.map((w) => w.sync)).toEqual([true]);
  });

  it('a crash after the write but before the reply recovers to a state that includes the event', async () => {
    const { system, advance } = virtualSystem();
    const backend = new MemoryBackend();
    const ref = system.spawn(ledger({ backend }), { name: 'acct' });
    expect(await system.ask(ref, { type: 'add', n: 1 }, ask)).toBe(1);
    await expect(system.ask(ref, { type: 'add-then-crash', n: 10 }, ask)).rejects.toMatchObject({ message: 'crashed before replying' });
    backend.crash();
    await advance(1_000);
    expect(restartsOf(system, '/user/acct')).toBe(1);
    expect(await system.ask(ref, { type: 'get' }, ask)).toEqual({ total: 11, events: 2 });
  });

  it('an applyEvent that fails after the write fails the actor; recovery applies the event', async () => {
    const { system, advance } = virtualSystem();
    const backend = new MemoryBackend();
    let failNext = false;
    const onApply = (): void => {
      if (!failNext) return;
      failNext = false;
      throw new Error('apply failed');
    };
    const ref = system.spawn(ledger({ backend, onApply }), { name: 'acct' });
    expect(await system.ask(ref, { type: 'add', n: 2 }, ask)).toBe(2);
    failNext = true;
    await expect(system.ask(ref, { type: 'add', n: 3 }, ask)).rejects.toMatchObject({ code: 'Internal', message: 'apply failed' });
    backend.crash();
    await advance(1_000);
    expect(await system.ask(ref, { type: 'get' }, ask)).toEqual({ total: 5, events: 2 });
  });

  it('a failed journal write fails the actor and acknowledges nothing', async () => {
    const { system, advance } = virtualSystem();
    const backend = new ScriptedBackend();
    const acknowledged: number[] = [];
    const ref = system.spawn(ledger({ backend, acknowledged }), { name: 'acct' });
    expect(await system.ask(ref, { type: 'add', n: 1 }, ask)).toBe(1);
    backend.failBefore = 1;
    await expect(system.ask(ref, { type: 'add', n: 100 }, ask)).rejects.toMatchObject({ code: 'Unavailable', message: 'injected write failure' });
    expect(acknowledged).toEqual([1]);
    await advance(1_000);
    expect(restartsOf(system, '/user/acct')).toBe(1);
    expect(await system.ask(ref, { type: 'get' }, ask)).toEqual({ total: 1, events: 1 });
    expect(await system.ask(ref, { type: 'add', n: 2 }, ask)).toBe(3);
    expect(await journalOf(backend)).toEqual([1, 2]);
  });

  it('a write that lands but reports failure is an unknown outcome: recovery includes it', async () => {
    const { system, advance } = virtualSystem();
    const backend = new ScriptedBackend();
    const acknowledged: number[] = [];
    const ref = system.spawn(ledger({ backend, acknowledged }));
    backend.failAfter = 1;
    await expect(system.ask(ref, { type: 'add', n: 4 }, ask)).rejects.toMatchObject({ code: 'Unavailable' });
    expect(acknowledged).toEqual([]);
    await advance(1_000);
    expect(await system.ask(ref, { type: 'get' }, ask)).toEqual({ total: 4, events: 1 });
  });

  it('a failed snapshot only logs: commands go on and recovery replays the events', async () => {
    const { system } = virtualSystem();
    const backend = new MemoryBackend();
    const snapshotBackend = new ScriptedBackend();
    snapshotBackend.failBefore = Infinity;
    const spec = { backend, snapshotBackend, snapshotEvery: 2 };
    const ref = system.spawn(ledger(spec), { name: 'acct' });
    for (let n = 1; n <= 5; n++) await system.ask(ref, { type: 'add', n }, ask);
    // The reply goes out before the snapshot; the next command waits for it.
    expect(await system.ask(ref, { type: 'get' }, ask)).toEqual({ total: 15, events: 5 });
    expect(snapshotBackend.writes).toHaveLength(4);
    expect(restartsOf(system, '/user/acct')).toBe(0);
    await system.stop(ref);
    const again = system.spawn(ledger(spec), { name: 'acct' });
    expect(await system.ask(again, { type: 'get' }, ask)).toEqual({ total: 15, events: 5 });
  });

  it('a second writer with a stale view of the journal is refused, restarts and catches up', async () => {
    const { system, advance } = virtualSystem();
    const backend = new MemoryBackend();
    const a = system.spawn(ledger({ backend }), { name: 'a' });
    const b = system.spawn(ledger({ backend }), { name: 'b' });
    expect(await system.ask(a, { type: 'get' }, ask)).toEqual({ total: 0, events: 0 });
    expect(await system.ask(b, { type: 'get' }, ask)).toEqual({ total: 0, events: 0 });
    expect(await system.ask(a, { type: 'add', n: 1 }, ask)).toBe(1);
    await expect(system.ask(b, { type: 'add', n: 2 }, ask)).rejects.toMatchObject({ code: 'FailedPrecondition' });
    await advance(1_000);
    expect(await system.ask(b, { type: 'add', n: 2 }, ask)).toBe(3);
    expect(await journalOf(backend)).toEqual([1, 2]);
  });

  it('runs identically on virtual time: the memory backend settles without timers or I/O', async () => {
    const run = async (): Promise<string> => {
      const { system, scheduler, advance } = virtualSystem(7);
      const backend = new MemoryBackend();
      const ref = system.spawn(ledger({ backend, snapshotEvery: 2 }), { name: 'acct' });
      for (let n = 1; n <= 5; n++) await system.ask(ref, { type: 'add', n }, ask);
      await expect(system.ask(ref, { type: 'add-then-crash', n: 1 }, ask)).rejects.toThrow();
      await advance(1_000);
      const state = await system.ask(ref, { type: 'get' }, ask);
      return JSON.stringify({ state, stats: scheduler.stats() });
    };
    expect(await run()).toBe(await run());
  });

  it('refuses a snapshotEvery that is not a positive integer', () => {
    for (const snapshotEvery of [0, 1.5, -1]) {
      expect(() => ledger({ backend: new MemoryBackend(), snapshotEvery })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    }
  });

  it('property: after a crash and a fresh spawn, the recovered state equals the state before', async () => {
    const command = fc.oneof(
      fc.record({ type: fc.constant('add' as const), n: fc.integer({ min: -50, max: 50 }) }),
      fc.record({ type: fc.constant('add-many' as const), ns: fc.array(fc.integer({ min: -50, max: 50 }), { maxLength: 3 }) }),
      fc.constant({ type: 'double' as const }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(command, { maxLength: 25 }),
        fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
        fc.boolean(),
        async (commands, snapshotEvery, deleteEventsOnSnapshot) => {
          const { system } = virtualSystem();
          const backend = new MemoryBackend();
          const spec = { backend, snapshotEvery, deleteEventsOnSnapshot };
          const ref = system.spawn(ledger(spec), { name: 'acct' });
          let model: Ledger = { total: 0, events: 0 };
          for (const cmd of commands) {
            const events: LedgerEvent[] =
              cmd.type === 'add' ? [{ type: 'added', n: cmd.n }] : cmd.type === 'add-many' ? cmd.ns.map((n) => ({ type: 'added', n })) : [{ type: 'doubled' }];
            model = events.reduce(applyLedger, model);
            expect(await system.ask(ref, cmd, ask)).toBe(model.total);
          }
          const before = await system.ask(ref, { type: 'get' }, ask);
          expect(before).toEqual(model);
          await system.stop(ref);
          backend.crash();
          const again = system.spawn(ledger(spec), { name: 'acct' });
          expect(await system.ask(again, { type: 'get' }, ask)).toEqual(before);
        },
      ),
      { numRuns: 60 },
    );
  });
});
