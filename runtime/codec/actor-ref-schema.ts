// The wire form of an actor reference: plain data naming the node, the actor's path on it and
// the incarnation uid, so a ref nested anywhere in a message survives encoding unchanged.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';

/**
 * Schema for an actor reference inside message schemas. Closed (no extra properties) so a
 * half-built or live ref object is rejected at the edge instead of travelling as garbage.
 */
export const ActorRefSchema = Type.Object(
  {
    node: Type.String({ minLength: 1 }),
    path: Type.String({ minLength: 1 }),
    uid: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  },
  { additionalProperties: false },
);

export type WireActorRef = Static<typeof ActorRefSchema>;
