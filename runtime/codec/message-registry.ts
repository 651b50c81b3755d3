// The catalogue of message schemas keyed by their `type` discriminant (every message is an object
// with a string `type`): each message decoded from the wire is checked here before an actor sees it.
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { TypeCheck } from '@sinclair/typebox/compiler';
import type { Static, TLiteral, TSchema } from '@sinclair/typebox';
import { UltraError } from '../errors.ts';
import { clipText } from './clip-text.ts';

/** A message schema: an object schema whose `type` property is the literal it is registered under. */
export type MessageSchema = TSchema & { readonly properties: { readonly type: TLiteral<string> } };

/** One schema violation, as reported in an InvalidArgument error's details. */
export interface MessageViolation {
  readonly path: string;
  readonly message: string;
}

// Enough to see what is wrong without echoing a whole hostile message back.
const MAX_REPORTED_VIOLATIONS = 3;

/**
 * Registered schemas, compiled once. `M` is the union of the registered message types, so
 * `validate` returns a value the compiler can narrow on `type`:
 *
 *   const registry = new MessageRegistry().register(Ping).register(Pong);
 *   const msg = registry.validate(decoded); // Static<typeof Ping> | Static<typeof Pong>
 */
export class MessageRegistry<M = never> {
  readonly #checks = new Map<string, TypeCheck<TSchema>>();

  /**
   * Adds a schema under its `type` literal; a type registered twice is AlreadyExists. Returns this
   * same registry, re-typed to include the new message: keep the returned value.
   */
  register<S extends MessageSchema>(schema: S): MessageRegistry<M | Static<S>> {
    const type: unknown = schema.properties.type?.const;
    if (typeof type !== 'string') {
      throw new UltraError('InvalidArgument', 'a message schema needs a string literal `type` property');
    }
    if (this.#checks.has(type)) {
      throw new UltraError('AlreadyExists', `message type '${type}' is already registered`);
    }
    this.#checks.set(type, TypeCompiler.Compile(schema));
    return this as MessageRegistry<M | Static<S>>;
  }

  has(type: string): boolean {
    return this.#checks.has(type);
  }

  /** Returns `value` typed as a registered message, or throws InvalidArgument saying why not. */
  validate(value: unknown): M {
    const type = messageType(value);
    const shownType = clipText(type);
    const check = this.#checks.get(type);
    if (check === undefined) {
      throw new UltraError('InvalidArgument', `unknown message type '${shownType}'`, {
        type: shownType,
      });
    }
    if (check.Check(value)) return value as M;
    const violations: MessageViolation[] = [];
    for (const error of check.Errors(value)) {
      violations.push({ path: clipText(error.path), message: error.message });
      if (violations.length === MAX_REPORTED_VIOLATIONS) break;
    }
    const summary = violations.map((v) => `${v.path || '/'}: ${v.message}`).join('; ');
    throw new UltraError('InvalidArgument', `invalid '${shownType}' message: ${summary}`, {
      type: shownType,
      violations,
    });
  }
}

function messageType(value: unknown): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UltraError('InvalidArgument', 'a message must be an object');
  }
  const type: unknown = (value as { type?: unknown }).type;
  if (typeof type !== 'string') {
    throw new UltraError('InvalidArgument', 'a message needs a string `type`');
  }
  return type;
}
