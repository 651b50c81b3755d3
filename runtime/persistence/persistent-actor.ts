// Event-sourced actors: the state is a fold of the events in the journal (plus a snapshot), so an
// actor that is restarted, moved or crashed comes back with every change it ever acknowledged.
//
// A command handler does not change the state. It returns an effect — the events to persist, and
// what to do once they are durable:
//
//   receiveCommand: (state, msg, ctx) => ({
//     events: [{ type: 'deposited', amount: msg.amount }],
//     afterPersist: (next) => ctx.reply(msg, next.balance),
//   })
//
// Why an effect rather than an awaited `ctx.persist(events)`: the handler cannot reply before the
// write (it never sees the new state until the events are durable), cannot touch the state except
// through events, and cannot forget an `await` and let the next command run against a journal
// write still in flight. The helper does the sequencing, always the same way:
//
//   1. append the events to the journal with sync: true;
//   2. only then apply them (applyEvent, pure) to get the new state;
//   3. run afterPersist(newState) — replies go out here, so nothing is acknowledged that a crash
//      could lose;
//   4. every `snapshotEvery` events, save a snapshot (after the events are durable, so it never
//      runs ahead of the journal).
//
// The cell handles the next command only after all of this settles (an actor's receive is never
// re-entered while its promise is pending). If the append fails — or applyEvent or afterPersist
// throws — the actor fails: the asker gets the error, and supervision restarts the actor, which
// recovers from the journal. An error reply is therefore an unknown outcome, as with any storage:
// the events may have been written (then the recovered state includes them). A failed snapshot
// only logs a warning; recovery just replays more events, and the next event tries again.
//
// Recovery (init, on spawn and on every restart): the latest snapshot, then the events after it,
// folded with applyEvent. Commands that arrive meanwhile wait in the mailbox.
//
// One actor owns one persistence id at a time (the journal refuses a second, stale writer). State
// and events must be plain data (see value-codec.ts). The result is an ordinary Behavior: spread
// it to add a mailbox or supervisor spec, e.g. `{ ...definePersistentActor(spec), mailbox }`.
import type { ActorContext, Behavior } from '../actors/behavior.ts';
import type { Message } from '../actors/ref.ts';
import { UltraError } from '../errors.ts';
import type { Journal } from './journal.ts';
import type { SnapshotStore } from './snapshot-store.ts';

/** What a command does: events to persist, then a callback with the state that includes them. */
export interface PersistEffect<S, E> {
  /** Persisted atomically and in order; none (or omitted) means a read-only command. */
  readonly events?: readonly E[];
  /** Runs once the events are durable and applied (at once when there are none). */
  readonly afterPersist?: (state: S) => void;
}

export interface PersistentActorSpec<S, M extends Message, E> {
  /** The journal and snapshot key of this actor; a function is called on every (re)start. */
  readonly persistenceId: string | ((ctx: ActorContext<M>) => string);
  /** The state before the first event. Treated as immutable. */
  readonly initialState: S;
  /** Decides what a command does. Returning nothing is a command with no events and no callback. */
  readonly receiveCommand: (state: S, message: M, ctx: ActorContext<M>) => PersistEffect<S, E> | undefined | Promise<PersistEffect<S, E> | undefined>;
  /** Pure: the state after `event`. Runs for new events and again, the same way, in recovery. */
  readonly applyEvent: (state: S, event: E) => S;
  readonly journal: Journal;
  readonly snapshots: SnapshotStore;
  /** Save a snapshot once this many events have been persisted since the last one (default: never). */
  readonly snapshotEvery?: number;
  /** After each snapshot is durable, delete the journal events it covers (default false: keep them). */
  readonly deleteEventsOnSnapshot?: boolean;
}

/** The cell-level state of a persistent actor: the user state and where it stands in the journal. */
export interface PersistentState<S> {
  readonly persistenceId: string;
  readonly state: S;
  /** Seq of the last event applied to `state`. */
  readonly seq: number;
  /** Seq of the latest snapshot saved or recovered from (0: none). */
  readonly snapshotSeq: number;
}

export function definePersistentActor<S, M extends Message, E>(spec: PersistentActorSpec<S, M, E>): Behavior<PersistentState<S>, M> {
  const snapshotEvery = spec.snapshotEvery;
  if (snapshotEvery !== undefined && !(Number.isSafeInteger(snapshotEvery) && snapshotEvery >= 1)) {
    throw new UltraError('InvalidArgument', `snapshotEvery must be an integer ≥ 1, got ${snapshotEvery}`);
  }

  async function recover(ctx: ActorContext<M>): Promise<PersistentState<S>> {
    const persistenceId = typeof spec.persistenceId === 'string' ? spec.persistenceId : spec.persistenceId(ctx);
    const snapshot = await spec.snapshots.latest<S>(persistenceId);
    let state = snapshot === undefined ? spec.initialState : snapshot.state;
    let seq = snapshot === undefined ? 0 : snapshot.seq;
    for await (const entry of spec.journal.replay<E>(persistenceId, seq + 1)) {
      if (entry.seq !== seq + 1) {
        throw new UltraError('Internal', `journal of '${persistenceId}' has a gap: expected event ${seq + 1}, found ${entry.seq}`);
      }
      state = spec.applyEvent(state, entry.event);
      seq = entry.seq;
    }
    // Events deleted beyond the snapshot, or a snapshot ahead of the journal: recovering anyway
    // would silently lose or invent state.
    const highest = await spec.journal.highestSeq(persistenceId);
    if (highest !== seq) {
      throw new UltraError('Internal', `journal of '${persistenceId}' ends at seq ${highest}, but recovery reached ${seq}`);
    }
    ctx.log.debug({ persistenceId, seq, snapshotSeq: snapshot?.seq }, 'recovered');
    return { persistenceId, state, seq, snapshotSeq: snapshot === undefined ? 0 : snapshot.seq };
  }

  function carryOut(current: PersistentState<S>, effect: PersistEffect<S, E> | undefined, ctx: ActorContext<M>): PersistentState<S> | Promise<PersistentState<S>> {
    const events = effect?.events ?? [];
    if (events.length === 0) {
      // A read-only command: no write to wait for, and no need to make the cell go async.
      effect?.afterPersist?.(current.state);
      return current;
    }
    return persist(current, events, effect?.afterPersist, ctx);
  }

  async function persist(
    current: PersistentState<S>,
    events: readonly E[],
    afterPersist: ((state: S) => void) | undefined,
    ctx: ActorContext<M>,
  ): Promise<PersistentState<S>> {
    const seq = await spec.journal.append(current.persistenceId, events, { nextSeq: current.seq + 1, sync: true });
    let state = current.state;
    for (const event of events) state = spec.applyEvent(state, event);
    afterPersist?.(state);
    const next = { ...current, state, seq };
    return snapshotEvery !== undefined && seq - current.snapshotSeq >= snapshotEvery ? snapshot(next, ctx) : next;
  }

  async function snapshot(current: PersistentState<S>, ctx: ActorContext<M>): Promise<PersistentState<S>> {
    const { persistenceId, seq } = current;
    try {
      await spec.snapshots.save(persistenceId, seq, current.state);
    } catch (error) {
      ctx.log.warn({ err: error, persistenceId, seq }, 'snapshot failed; recovery will replay more events');
      return current;
    }
    if (spec.deleteEventsOnSnapshot === true) {
      try {
        await spec.journal.deleteUpTo(persistenceId, seq);
      } catch (error) {
        // Harmless: the next snapshot deletes these events along with its own.
        ctx.log.warn({ err: error, persistenceId, seq }, 'deleting events covered by a snapshot failed');
      }
    }
    return { ...current, snapshotSeq: seq };
  }

  return {
    init: recover,
    receive(current, message, ctx) {
      const effect = spec.receiveCommand(current.state, message, ctx);
      return effect instanceof Promise ? effect.then((e) => carryOut(current, e, ctx)) : carryOut(current, effect, ctx);
    },
  };
}
