// Checks each envelope that arrives from another node before the router acts on it: its shape (the
// `k` discriminant, refs as { node, path, uid }, reply addresses, reply and termination payloads),
// where it is going, and that it claims nothing the authenticated sender cannot vouch for. The
// sender is the peer id that noise proved on the connection, never a node id written in the
// payload: a peer may speak for its own actors and its own worker threads, and for no one else.
import { Type, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ActorRefSchema } from '../../runtime/codec/actor-ref-schema.ts';
import { ERROR_CODES } from '../../runtime/errors.ts';

/** Why an inbound envelope was refused. */
export type EnvelopeRejection =
  /** Not an envelope: unknown `k`, missing or ill-typed fields, extra fields. */
  | 'invalid-envelope'
  /** Addressed to a node other than this one (or its worker threads): nodes do not relay for peers. */
  | 'misdirected'
  /** Names another node as the origin of a reply path, a watcher or a terminated actor. */
  | 'forged-origin';

const Ref = ActorRefSchema;
const ReplyAddress = Type.Object(
  { node: Type.String({ minLength: 1 }), askId: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }) },
  { additionalProperties: false },
);
const closed = { additionalProperties: false } as const;

const schemas: Record<string, TSchema> = {
  tell: Type.Object(
    {
      k: Type.Literal('tell'),
      to: Ref,
      // Every actor message is an object with a string `type`; its own schema is the actor's business.
      msg: Type.Object({ type: Type.String() }),
      reply: Type.Optional(ReplyAddress),
    },
    closed,
  ),
  reply: Type.Object(
    {
      k: Type.Literal('reply'),
      to: ReplyAddress,
      reply: Type.Union([
        Type.Object({ ok: Type.Literal(true), value: Type.Optional(Type.Unknown()) }, closed),
        Type.Object(
          {
            ok: Type.Literal(false),
            error: Type.Object(
              {
                code: Type.Union(ERROR_CODES.map((code) => Type.Literal(code))),
                message: Type.String(),
                details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
              },
              closed,
            ),
          },
          closed,
        ),
      ]),
    },
    closed,
  ),
  watch: Type.Object({ k: Type.Literal('watch'), target: Ref, watcher: Ref }, closed),
  unwatch: Type.Object({ k: Type.Literal('unwatch'), target: Ref, watcher: Ref }, closed),
  terminated: Type.Object(
    {
      k: Type.Literal('terminated'),
      watcher: Ref,
      terminated: Type.Object(
        {
          type: Type.Literal('terminated'),
          ref: Ref,
          reason: Type.Union(['stopped', 'failed', 'node-down', 'not-found'].map((r) => Type.Literal(r))),
        },
        closed,
      ),
    },
    closed,
  ),
};

const checks = new Map<string, TypeCheck<TSchema>>(Object.entries(schemas).map(([k, schema]) => [k, TypeCompiler.Compile(schema)]));

export class EnvelopeValidator {
  readonly #localNode: string;

  constructor(localNode: string) {
    this.#localNode = localNode;
  }

  /**
   * Undefined when `value` is an Envelope that `from` may send to this node (the caller may then
   * treat it as one), else why not.
   */
  check(value: unknown, from: string): EnvelopeRejection | undefined {
    const k = typeof value === 'object' && value !== null ? (value as { k?: unknown }).k : undefined;
    const check = typeof k === 'string' ? checks.get(k) : undefined;
    if (check === undefined || !check.Check(value)) return 'invalid-envelope';
    const e = value as WireEnvelope;
    switch (e.k) {
      case 'tell':
        if (!this.#isLocal(e.to.node)) return 'misdirected';
        // Replies go where the asker said; only the asker's own node may say it.
        return e.reply === undefined || isNodeOrSubNode(e.reply.node, from) ? undefined : 'forged-origin';
      case 'reply':
        return this.#isLocal(e.to.node) ? undefined : 'misdirected';
      case 'watch':
      case 'unwatch':
        if (!this.#isLocal(e.target.node)) return 'misdirected';
        // Terminated goes to the watcher: a watcher on a third node would let a peer aim it there.
        return isNodeOrSubNode(e.watcher.node, from) ? undefined : 'forged-origin';
      case 'terminated':
        if (!this.#isLocal(e.watcher.node)) return 'misdirected';
        // Only the node that hosted an actor may report its death.
        return isNodeOrSubNode(e.terminated.ref.node, from) ? undefined : 'forged-origin';
    }
  }

  #isLocal(node: string): boolean {
    return isNodeOrSubNode(node, this.#localNode);
  }
}

/** The fields the checks read, once the schema has passed. */
type WireEnvelope =
  | { readonly k: 'tell'; readonly to: { readonly node: string }; readonly reply?: { readonly node: string } }
  | { readonly k: 'reply'; readonly to: { readonly node: string } }
  | { readonly k: 'watch' | 'unwatch'; readonly target: { readonly node: string }; readonly watcher: { readonly node: string } }
  | { readonly k: 'terminated'; readonly watcher: { readonly node: string }; readonly terminated: { readonly ref: { readonly node: string } } };

/** `node` is `owner` itself or one of its worker threads (`<owner>~<name>`, see transports/worker). */
function isNodeOrSubNode(node: string, owner: string): boolean {
  return node === owner || (node.length > owner.length + 1 && node.startsWith(owner) && node.charCodeAt(owner.length) === 0x7e);
}
