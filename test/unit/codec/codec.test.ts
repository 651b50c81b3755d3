import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Codec } from '../../../runtime/codec/codec.ts';
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES } from '../../../runtime/codec/framing.ts';
import { codeOf } from '../../support/error-code.ts';
import { wireActorRef, wireValue } from './wire-arbitraries.ts';


describe('Codec', () => {
  const codec = new Codec();

  it('round-trips JSON-like values, byte arrays and nested refs', () => {
    fc.assert(
      fc.property(wireValue, (value) => {
        expect(codec.decode(codec.encode(value))).toEqual(value);
      }),
    );
  });

  it('round-trips messages carrying refs', () => {
    const message = fc.record({
      type: fc.constant('deliver'),
      to: wireActorRef,
      replyTo: fc.array(wireActorRef),
      body: wireValue,
    });
    fc.assert(
      fc.property(message, (msg) => {
        expect(codec.decode(codec.encode(msg))).toEqual(msg);
      }),
    );
  });

  it('keeps undefined, bigint and Date, and decodes binaries as plain Uint8Array', () => {
    const value = { u: undefined, big: 2n ** 60n, at: new Date(1_700_000_000_123), bin: Buffer.from([1, 2]) };
    const decoded = codec.decode(codec.encode(value)) as typeof value;
    expect(decoded.u).toBeUndefined();
    expect('u' in decoded).toBe(true);
    expect(decoded.big).toBe(2n ** 60n);
    expect(decoded.at).toEqual(value.at);
    expect(Object.getPrototypeOf(decoded.bin)).toBe(Uint8Array.prototype);
    expect(Array.from(decoded.bin)).toEqual([1, 2]);
  });

  it('shows the documented exceptions: -0, own __proto__ keys and lone surrogates', () => {
    expect(Object.is(codec.decode(codec.encode(-0)), 0)).toBe(true);
    expect(codec.decode(codec.encode('a\ud800b'))).toBe('a\ufffdb');
    const hostile: unknown = JSON.parse('{"__proto__":{"polluted":true}}');
    const decoded = codec.decode(codec.encode(hostile)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(decoded['polluted']).toBeUndefined();
    expect(decoded['__proto_']).toEqual({ polluted: true });
  });

  it('decodes byte arrays that do not alias the input', () => {
    const bytes = codec.encode({ bin: new Uint8Array([9, 9, 9]) });
    const decoded = codec.decode(bytes) as { bin: Uint8Array };
    bytes.fill(0);
    expect(Array.from(decoded.bin)).toEqual([9, 9, 9]);
  });

  it('returns exact-size plain arrays from encode', () => {
    const bytes = codec.encode('x');
    expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype);
    expect(bytes.buffer.byteLength).toBe(bytes.length);
  });

  it('rejects malformed input as InvalidArgument', () => {
    const malformed = [
      [],
      [0x92, 0x01], // array of 2 with one element
      [0x01, 0x02], // trailing bytes
      [0xc1], // never used
      [0xd4, 0x99, 0x00], // unknown extension
      [0xa5, 0x61], // truncated string
    ];
    for (const bytes of malformed) {
      expect(codeOf(() => codec.decode(new Uint8Array(bytes)))).toBe('InvalidArgument');
    }
  });

  it('rejects nesting deep enough to exhaust the stack as InvalidArgument', () => {
    expect(codeOf(() => codec.decode(new Uint8Array(1_000_000).fill(0x91)))).toBe('InvalidArgument');
  });

  it('rejects values it cannot encode as InvalidArgument', () => {
    expect(codeOf(() => codec.encode(2n ** 70n))).toBe('InvalidArgument');
  });

  it('prefixes frames with the big-endian body length', () => {
    const body = codec.encode({ hello: 'world' });
    const frame = codec.encodeFrame({ hello: 'world' });
    expect(frame.length).toBe(FRAME_HEADER_BYTES + body.length);
    expect(new DataView(frame.buffer).getUint32(0, false)).toBe(body.length);
    expect(frame.subarray(FRAME_HEADER_BYTES)).toEqual(body);
  });

  it('refuses to encode a frame over its limit as ResourceExhausted', () => {
    const small = new Codec({ maxFrameBytes: 16 });
    expect(small.encodeFrame('x'.repeat(10)).length).toBeGreaterThan(0);
    expect(codeOf(() => small.encodeFrame('x'.repeat(32)))).toBe('ResourceExhausted');
    expect(new Codec().maxFrameBytes).toBe(DEFAULT_MAX_FRAME_BYTES);
  });

  it('validates maxFrameBytes', () => {
    for (const maxFrameBytes of [0, -1, 1.5, 2 ** 32, Number.NaN]) {
      expect(codeOf(() => new Codec({ maxFrameBytes }))).toBe('InvalidArgument');
    }
  });
});
