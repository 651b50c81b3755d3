// The actor runtime's public surface.
export type { ActorContext, AskOptions, Behavior, DeferredReply, SpawnOptions, Timers } from './behavior.ts';
export { defineActor } from './behavior.ts';
export type { ActorInfo, CellStatus } from './cell.ts';
export type { MailboxOptions, OverflowPolicy } from './mailbox.ts';
export type { ActorRef, AnyRef, Message, Query, ReplyFor, ReplyOf, Terminated, TerminationReason } from './ref.ts';
export { isActorRef, refToString, sameRef } from './ref.ts';
export type { Directive, RestartStrategy, RestartType, SupervisorSpec } from './supervision.ts';
export { oneForAll, oneForOne, restForOne } from './supervision.ts';
export type { ActorSystemOptions, AskReply, DeadLetter, RemoteRouter, ReplyAddress, ShutdownResult } from './system.ts';
export { ActorSystem, ANY_INCARNATION } from './system.ts';
export { installCrashLog, installShutdownSignals, type ShutdownSignalOptions } from './shutdown-signals.ts';
