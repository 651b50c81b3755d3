// What an actor is: typed messages in, new state out. A behavior is a plain object of functions;
// the runtime owns the mailbox, lifecycle and supervision around it.
import type { Logger } from '../log/logger.ts';
import type { Env } from '../env/env.ts';
import type { ErrorData } from '../errors.ts';
import type { MailboxOptions } from './mailbox.ts';
import type { ActorRef, AnyRef, Message, ReplyFor, ReplyOf, Terminated } from './ref.ts';
import type { RestartType, SupervisorSpec } from './supervision.ts';
import type { ActorSystem } from './system.ts';

export interface Behavior<S, M extends Message> {
  /** Builds the initial state; may spawn children and start timers. Runs again on restart. */
  readonly init: (ctx: ActorContext<M>) => S | Promise<S>;
  /** Handles one message. Returns the next state. Never called concurrently for one actor. */
  readonly receive: (state: S, message: M, ctx: ActorContext<M>) => S | Promise<S>;
  /** Runs after the actor's children have stopped, on stop and before a restart. */
  readonly onStop?: (state: S, ctx: ActorContext<M>) => void | Promise<void>;
  /** How this actor supervises its children (default: one-for-one, restart, 10 in 60 s). */
  readonly supervisor?: SupervisorSpec;
  readonly mailbox?: MailboxOptions;
}

/** Identity function that fixes the state and message types of a behavior. */
export function defineActor<S, M extends Message>(behavior: Behavior<S, M>): Behavior<S, M> {
  return behavior;
}

export interface SpawnOptions {
  /** One path segment; generated ($1, $2, …) when omitted. */
  readonly name?: string;
  readonly restart?: RestartType;
  /** Overrides the behavior's mailbox options. */
  readonly mailbox?: MailboxOptions;
}

export interface AskOptions {
  /** Required upper bound on the wait; the ask rejects with DeadlineExceeded after it. */
  readonly timeoutMs: number;
}

/** A reply address kept for later (an answer after async work or after a Raft commit). */
export interface DeferredReply<R> {
  ok(value: R): void;
  error(error: ErrorData | Error): void;
}

export interface Timers<M extends Message> {
  /** Delivers `message` to self once after `delayMs`; replaces any timer with the same key. */
  startSingle(key: string, message: M, delayMs: number): void;
  /** Delivers `message` to self every `intervalMs`; replaces any timer with the same key. */
  startPeriodic(key: string, message: M, intervalMs: number): void;
  /** Cancels the timer; a message it already queued is discarded, not delivered. */
  cancel(key: string): void;
  cancelAll(): void;
  isActive(key: string): boolean;
}

export interface ActorContext<M extends Message> {
  readonly self: ActorRef<M>;
  readonly parent: AnyRef | undefined;
  readonly system: ActorSystem;
  readonly env: Env;
  readonly log: Logger;
  readonly timers: Timers<M>;

  spawn<S2, M2 extends Message>(behavior: Behavior<S2, M2>, options?: SpawnOptions): ActorRef<M2>;
  /** Stops a child (children first, then its onStop); with no argument, stops this actor. */
  stop(child?: AnyRef): void;
  children(): AnyRef[];
  child(name: string): AnyRef | undefined;

  tell<M2 extends Message>(ref: ActorRef<M2>, message: M2): void;
  ask<M2 extends Message, const Q extends M2>(ref: ActorRef<M2>, message: Q, options: AskOptions): Promise<ReplyFor<M2, Q>>;
  /** Answers the message being handled (it must have come from an ask). */
  reply<Q extends M>(message: Q, value: ReplyOf<Q>): void;
  /** Answers the message being handled with an error; the asker's promise rejects with it. */
  replyError(message: M, error: ErrorData | Error): void;
  /** Keeps the reply address of the message being handled, to answer later. */
  deferReply<Q extends M>(message: Q): DeferredReply<ReplyOf<Q>>;

  /**
   * Death-watch: when `ref` terminates, this actor receives `onTerminated(t)` — or the
   * Terminated itself when omitted (then M must include Terminated).
   */
  watch(ref: AnyRef, onTerminated?: (terminated: Terminated) => M): void;
  unwatch(ref: AnyRef): void;

  /** Sets the message being handled aside (bounded); unstashAll puts them back first in line. */
  stash(): void;
  unstashAll(): void;
}
