import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Type } from '@sinclair/typebox';
import { ActorRefSchema } from '../../../runtime/codec/actor-ref-schema.ts';
import { Codec } from '../../../runtime/codec/codec.ts';
import { FrameDecoder } from '../../../runtime/codec/frame-decoder.ts';
import { DEFAULT_MAX_FRAME_BYTES } from '../../../runtime/codec/framing.ts';
import { MessageRegistry } from '../../../runtime/codec/message-registry.ts';
import { UltraError } from '../../../runtime/errors.ts';
import { wireActorRef, wireValue } from './wire-arbitraries.ts';

const codec = new Codec();

function rawFrame(body: readonly number[]): Uint8Array {
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setUint32(0, body.length, false);
  frame.set(body, 4);
  return frame;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Feeds `stream` cut at `cuts` through one reused scratch buffer, as a socket reader would. */
function pushInChunks<T>(decoder: FrameDecoder<T>, stream: Uint8Array, cuts: readonly number[]) {
  const bounds = [...new Set([0, ...cuts.map((c) => c % (stream.length + 1)), stream.length])].sort((a, b) => a - b);
  const scratch = new Uint8Array(stream.length);
  const values: T[] = [];
  const errors: UltraError[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const chunk = stream.subarray(bounds[i], bounds[i + 1]);
    scratch.set(chunk);
    const out = decoder.push(scratch.subarray(0, chunk.length));
    scratch.fill(0xee); // the decoder must not keep references into a reused buffer
    values.push(...out.values);
    errors.push(...out.errors);
  }
  return { values, errors };
}

const malformedBody = fc.constantFrom([], [0x92, 0x01], [0x01, 0x02], [0xc1], [0xd4, 0x99, 0x00], [0xa5, 0x61]);

describe('FrameDecoder', () => {
  it('decodes the same values however the stream is chunked', () => {
    fc.assert(
      fc.property(fc.array(wireValue, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 30 }), (values, cuts) => {
        const stream = concat(values.map((v) => codec.encodeFrame(v)));
        const decoder = new FrameDecoder({ maxFrameBytes: DEFAULT_MAX_FRAME_BYTES });
        const out = pushInChunks(decoder, stream, cuts);
        expect(out.errors).toEqual([]);
        expect(out.values).toEqual(values);
        expect(decoder.stats).toEqual({ framesDecoded: values.length, malformed: 0, oversized: 0, invalid: 0 });
      }),
    );
  });

  it('drops only the malformed frames, however the stream is chunked', () => {
    const item = fc.oneof(
      wireValue.map((value) => ({ ok: true as const, value })),
      malformedBody.map((body) => ({ ok: false as const, body })),
    );
    fc.assert(
      fc.property(fc.array(item, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 30 }), (items, cuts) => {
        const stream = concat(items.map((i) => (i.ok ? codec.encodeFrame(i.value) : rawFrame(i.body))));
        const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
        const out = pushInChunks(decoder, stream, cuts);
        const good = items.flatMap((i) => (i.ok ? [i.value] : []));
        expect(out.values).toEqual(good);
        expect(out.errors.map((e) => e.code)).toEqual(items.filter((i) => !i.ok).map(() => 'InvalidArgument'));
        expect(decoder.stats.malformed).toBe(items.length - good.length);
        expect(decoder.failed).toBe(false);
      }),
    );
  });

  it('fails for good on an oversized header, after delivering the frames before it', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 64 });
    const oversized = new Uint8Array([0, 0, 0, 65]);
    const out = decoder.push(concat([codec.encodeFrame('before'), oversized, codec.encodeFrame('after')]));
    expect(out.values).toEqual(['before']);
    expect(out.errors.map((e) => e.code)).toEqual(['ResourceExhausted']);
    expect(decoder.failed).toBe(true);
    expect(decoder.stats).toEqual({ framesDecoded: 1, malformed: 0, oversized: 1, invalid: 0 });
    for (const chunk of [codec.encodeFrame('later'), new Uint8Array()]) {
      expect(() => decoder.push(chunk)).toThrow(expect.objectContaining({ code: 'FailedPrecondition' }));
    }
  });

  it('accepts a body of exactly maxFrameBytes and notices an oversized header split across chunks', () => {
    const frame = codec.encodeFrame('x'.repeat(30));
    const exact = new FrameDecoder({ maxFrameBytes: frame.length - 4 });
    expect(exact.push(frame).values).toEqual(['x'.repeat(30)]);

    const split = new FrameDecoder({ maxFrameBytes: 10 });
    expect(split.push(new Uint8Array([0xff, 0xff]))).toEqual({ values: [], errors: [] });
    expect(split.push(new Uint8Array([0xff, 0xff])).errors[0]?.code).toBe('ResourceExhausted');
  });

  describe('with a registry', () => {
    const Ping = Type.Object({ type: Type.Literal('ping'), from: ActorRefSchema, seq: Type.Integer() });
    const registry = new MessageRegistry().register(Ping);

    it('delivers valid messages and drops invalid or unknown ones with InvalidArgument', () => {
      fc.assert(
        fc.property(wireActorRef, fc.integer(), (from, seq) => {
          const decoder = new FrameDecoder({ maxFrameBytes: 4096, registry });
          const stream = concat([
            codec.encodeFrame({ type: 'ping', from, seq }),
            codec.encodeFrame({ type: 'ping', from: { ...from, uid: -1 }, seq }),
            codec.encodeFrame({ type: 'pong', seq }),
            codec.encodeFrame({ type: 'ping', from, seq: seq + 1 }),
          ]);
          const out = decoder.push(stream);
          expect(out.values).toEqual([
            { type: 'ping', from, seq },
            { type: 'ping', from, seq: seq + 1 },
          ]);
          expect(out.errors.map((e) => e.code)).toEqual(['InvalidArgument', 'InvalidArgument']);
          expect(out.errors[0]?.message).toContain('/from/uid');
          expect(out.errors[1]?.message).toContain("unknown message type 'pong'");
          expect(decoder.stats).toEqual({ framesDecoded: 2, malformed: 0, oversized: 0, invalid: 2 });
        }),
        { numRuns: 20 },
      );
    });

    it('counts malformed and invalid frames separately', () => {
      const decoder = new FrameDecoder({ maxFrameBytes: 4096, registry });
      const out = decoder.push(concat([rawFrame([0xc1]), codec.encodeFrame([1, 2]), codec.encodeFrame('ping')]));
      expect(out.values).toEqual([]);
      expect(decoder.stats).toEqual({ framesDecoded: 0, malformed: 1, oversized: 0, invalid: 2 });
    });
  });

  it('validates maxFrameBytes', () => {
    expect(() => new FrameDecoder({ maxFrameBytes: 0 })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });
});
