import { describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import { ActorRefSchema } from '../../../runtime/codec/actor-ref-schema.ts';
import { MessageRegistry } from '../../../runtime/codec/message-registry.ts';
import { UltraError } from '../../../runtime/errors.ts';

const Ping = Type.Object({ type: Type.Literal('ping'), from: ActorRefSchema, seq: Type.Integer() });
const Pong = Type.Object({ type: Type.Literal('pong'), seq: Type.Integer(), note: Type.Optional(Type.String()) });
const ref = { node: 'n1', path: '/user/a', uid: 7 };

function caught(fn: () => unknown): UltraError {
  try {
    fn();
  } catch (error) {
    if (error instanceof UltraError) return error;
    throw error;
  }
  throw new Error('expected an UltraError');
}

describe('MessageRegistry', () => {
  const registry = new MessageRegistry().register(Ping).register(Pong);

  it('returns a valid message typed by its discriminant', () => {
    const msg = registry.validate({ type: 'ping', from: ref, seq: 1 });
    if (msg.type !== 'ping') throw new Error('narrowing failed');
    expect(msg.from).toEqual(ref);
    expect(registry.validate({ type: 'pong', seq: 2 })).toEqual({ type: 'pong', seq: 2 });
  });

  it('names the type and the first violations of an invalid message', () => {
    const error = caught(() => registry.validate({ type: 'ping', from: { ...ref, uid: -1 }, seq: 'x' }));
    expect(error.code).toBe('InvalidArgument');
    expect(error.message).toContain("'ping'");
    expect(error.message).toContain('/from/uid');
    expect(error.message).toContain('/seq');
    expect(error.details?.['type']).toBe('ping');
  });

  it('reports at most three violations', () => {
    const Wide = Type.Object({
      type: Type.Literal('wide'),
      a: Type.String(),
      b: Type.String(),
      c: Type.String(),
      d: Type.String(),
    });
    const error = caught(() => new MessageRegistry().register(Wide).validate({ type: 'wide' }));
    expect(error.details?.['violations']).toHaveLength(3);
  });

  it('rejects unknown types, non-objects and missing discriminants', () => {
    expect(caught(() => registry.validate({ type: 'nope' })).message).toContain("unknown message type 'nope'");
    for (const value of [null, 3, 'ping', [{ type: 'ping' }], {}, { type: 1 }]) {
      expect(caught(() => registry.validate(value)).code).toBe('InvalidArgument');
    }
  });

  it('clips a huge unknown type in the error', () => {
    const error = caught(() => registry.validate({ type: 'x'.repeat(100_000) }));
    expect(error.message.length).toBeLessThan(300);
  });

  it('refuses a type registered twice, and schemas without a literal type', () => {
    expect(caught(() => new MessageRegistry().register(Ping).register(Ping)).code).toBe('AlreadyExists');
    const Untyped = Type.Object({ type: Type.String() });
    expect(caught(() => new MessageRegistry().register(Untyped as never)).code).toBe('InvalidArgument');
  });

  it('keeps ActorRefSchema closed', () => {
    const error = caught(() => registry.validate({ type: 'ping', from: { ...ref, extra: 1 }, seq: 1 }));
    expect(error.code).toBe('InvalidArgument');
    expect(registry.has('ping')).toBe(true);
    expect(registry.has('pang')).toBe(false);
  });
});
