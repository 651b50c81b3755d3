// Actor references are plain data — node id, path and incarnation uid — so they travel inside
// messages, across worker threads and between nodes unchanged. The message type is a phantom
// parameter: a ref only accepts the messages its actor understands.

declare const messageType: unique symbol;
declare const replyType: unique symbol;

export interface ActorRef<M = unknown> {
  readonly node: string;
  readonly path: string;
  /** Incarnation: a new actor spawned at a path that was used before gets a new uid. */
  readonly uid: number;
  /** Phantom, never present at run time: makes ActorRef<A> and ActorRef<B> incompatible. */
  readonly [messageType]?: (message: M) => void;
}

/** Any ref, whatever it accepts (for watching, logging, equality). */
export type AnyRef = ActorRef<never>;

/** Every actor message is an object with a string discriminant. */
export interface Message {
  readonly type: string;
}

/** Marks a message as a query that is answered with an R: `{ type: 'get' } & Query<number>`. */
export interface Query<R> {
  readonly [replyType]?: (reply: R) => R;
}

/** The reply type of a query message (unknown for a message that is not a Query). */
export type ReplyOf<Q> = Q extends { readonly [replyType]?: (reply: infer R) => unknown } ? R : never;

/** The reply type for sending `Q` to an actor that accepts the union `M`. */
export type ReplyFor<M extends Message, Q extends M> = ReplyOf<Extract<M, { readonly type: Q['type'] }>>;

export type TerminationReason = 'stopped' | 'failed' | 'node-down' | 'not-found';

/** Delivered to a watcher when the watched actor has terminated. */
export interface Terminated {
  readonly type: 'terminated';
  readonly ref: AnyRef;
  readonly reason: TerminationReason;
}

export function refToString(ref: AnyRef | ActorRef<any>): string {
  return `${ref.node}${ref.path}#${ref.uid}`;
}

export function sameRef(a: ActorRef<any>, b: ActorRef<any>): boolean {
  return a.uid === b.uid && a.path === b.path && a.node === b.node;
}

export function isActorRef(value: unknown): value is AnyRef {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.node === 'string' && typeof v.path === 'string' && typeof v.uid === 'number';
}

const NAME_PATTERN = /^[A-Za-z0-9_.~:@+=-][A-Za-z0-9_.~:@+=$-]{0,127}$/;

/** Actor names are one path segment: no '/', at most 128 characters, no leading '$' (reserved). */
export function isValidActorName(name: string): boolean {
  return NAME_PATTERN.test(name);
}
