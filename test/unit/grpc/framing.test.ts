// gRPC message framing: any split of DATA chunks yields the same messages, and bad frames end the
// call with the status gRPC prescribes before their bodies are buffered.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameMessage, GrpcMessageReader } from '../../../runtime/grpc/framing.ts';
import type { GrpcFrame } from '../../../runtime/grpc/framing.ts';
import { GrpcStatus, percentEncode } from '../../../runtime/grpc/status.ts';

function reader(max = 1 << 20): { readonly reader: GrpcMessageReader; readonly frames: GrpcFrame[] } {
  const frames: GrpcFrame[] = [];
  return { reader: new GrpcMessageReader(max, (f) => frames.push({ compressed: f.compressed, bytes: Buffer.from(f.bytes) })), frames };
}

/** `bytes` cut at the given offsets. */
function cut(bytes: Buffer, at: readonly number[]): Buffer[] {
  const points = [...new Set(at.map((n) => n % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, p));
    start = p;
  }
  return chunks;
}

describe('GrpcMessageReader', () => {
  it('reads the same messages however the stream is chunked', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 12 }), (messages, at) => {
        const wire = Buffer.concat(messages.map((m) => frameMessage(m)));
        const { reader: r, frames } = reader();
        for (const chunk of cut(wire, at)) expect(r.push(chunk)).toBeUndefined();
        expect(frames.map((f) => [...f.bytes])).toEqual(messages.map((m) => [...m]));
        expect(frames.every((f) => !f.compressed)).toBe(true);
        expect(r.idle).toBe(true);
      }),
    );
  });

  it('reads several messages from one chunk, and a header split byte by byte', () => {
    const { reader: r, frames } = reader();
    r.push(Buffer.concat([frameMessage(Buffer.from('one')), frameMessage(Buffer.from('two')), frameMessage(Buffer.alloc(0))]));
    expect(frames.map((f) => f.bytes.toString())).toEqual(['one', 'two', '']);
    const three = frameMessage(Buffer.from('three'));
    for (let i = 0; i < 6; i++) r.push(three.subarray(i, i + 1));
    expect(r.idle).toBe(false);
    r.push(three.subarray(6));
    expect(frames.at(-1)!.bytes.toString()).toBe('three');
    expect(r.idle).toBe(true);
  });

  it('hands a whole message in one chunk on without copying', () => {
    const frames: GrpcFrame[] = [];
    const r = new GrpcMessageReader(100, (f) => frames.push(f));
    const chunk = frameMessage(Buffer.from('view'));
    r.push(chunk);
    expect(frames[0]!.bytes.buffer).toBe(chunk.buffer);
  });

  it('keeps the compressed flag of each message', () => {
    const { reader: r, frames } = reader();
    const compressed = frameMessage(Buffer.from('z'));
    compressed[0] = 1;
    r.push(Buffer.concat([compressed, frameMessage(Buffer.from('p'))]));
    expect(frames.map((f) => f.compressed)).toEqual([true, false]);
  });

  it('refuses a message over the limit from its length prefix, before the body arrives', () => {
    const { reader: r, frames } = reader(10);
    expect(r.push(frameMessage(Buffer.alloc(10)))).toBeUndefined();
    const header = frameMessage(Buffer.alloc(11)).subarray(0, 5);
    expect(r.push(header)).toEqual({ code: GrpcStatus.RESOURCE_EXHAUSTED, details: 'Received message larger than max (11 vs 10)' });
    // Once failed, nothing more is read.
    expect(r.push(frameMessage(Buffer.alloc(1)))).toBeUndefined();
    expect(frames).toHaveLength(1);
  });

  it('refuses a compressed flag other than 0 or 1 as INTERNAL', () => {
    const { reader: r, frames } = reader();
    const bad = frameMessage(Buffer.from('x'));
    bad[0] = 2;
    expect(r.push(bad.subarray(0, 3))).toBeUndefined();
    expect(r.push(bad.subarray(3))).toMatchObject({ code: GrpcStatus.INTERNAL });
    expect(frames).toHaveLength(0);
  });
});

describe('percentEncode', () => {
  it('leaves printable ASCII but % as is and percent-encodes the rest as UTF-8', () => {
    expect(percentEncode('etcdserver: key is not provided')).toBe('etcdserver: key is not provided');
    expect(percentEncode('100% … ok\n')).toBe('100%25 %E2%80%A6 ok%0A');
    expect(decodeURIComponent(percentEncode('naïve 50% ✓'))).toBe('naïve 50% ✓');
  });
});
