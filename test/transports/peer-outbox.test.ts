// The per-peer send queue: coalescing into frames, the batch bound, waiting for drain, the byte
// and envelope bounds, and envelopes that cannot be encoded or are too large.
import { describe, expect, it } from 'vitest';
import { Codec } from '../../runtime/codec/codec.ts';
import { FrameDecoder } from '../../runtime/codec/frame-decoder.ts';
import type { Envelope } from '../../transports/transport.ts';
import { PeerOutbox, type FrameSink, type OutboxDropReason, type OutboxLimits } from '../../transports/libp2p/peer-outbox.ts';

/** A sink that takes `capacity` frames before asking for drain, and can be drained by hand. */
class FakeSink implements FrameSink {
  readonly frames: Uint8Array[] = [];
  capacity: number;
  closed = false;
  bufferedBytes = 0;
  #drained: (() => void) | undefined;

  constructor(capacity = Infinity) {
    this.capacity = capacity;
  }

  write(frame: Uint8Array): boolean {
    if (this.closed) throw new Error('closed');
    this.frames.push(frame);
    return this.frames.length < this.capacity;
  }

  onDrain(): Promise<void> {
    return new Promise((resolve) => (this.#drained = resolve));
  }

  drain(moreFrames: number): void {
    this.capacity = this.frames.length + moreFrames;
    this.#drained?.();
  }

  /** The envelope batches written so far. */
  batches(): unknown[][] {
    const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20 });
    return this.frames.flatMap((frame) => decoder.push(frame).values as unknown[][]);
  }
}

const tell = (i: number, payload = ''): Envelope => ({ k: 'tell', to: { node: 'b', path: '/user/x', uid: 1 }, msg: { type: 'm', i, payload } });
const limits: OutboxLimits = { maxBatchEnvelopes: 100, maxQueuedBytes: 1 << 20, maxQueuedEnvelopes: 10_000 };
const microtasks = () => new Promise<void>((resolve) => queueMicrotask(resolve));

function outbox(options: { limits?: Partial<OutboxLimits>; codec?: Codec } = {}) {
  const dropped: Array<{ reason: OutboxDropReason; envelopes: number }> = [];
  let written = 0;
  const box = new PeerOutbox(options.codec ?? new Codec(), { ...limits, ...options.limits }, {
    frameWritten: (envelopes) => (written += envelopes),
    dropped: (reason, envelopes) => dropped.push({ reason, envelopes }),
  });
  return { box, dropped, written: () => written };
}

describe('peer outbox', () => {
  it('coalesces the envelopes of one turn into one frame, in order', async () => {
    const { box, written } = outbox();
    const sink = new FakeSink();
    box.attach(sink);
    for (let i = 0; i < 50; i++) box.push(tell(i));
    expect(sink.frames).toHaveLength(0);
    await microtasks();
    expect(sink.batches().map((b) => b.length)).toEqual([50]);
    expect(sink.batches()[0]!.map((e) => (e as { msg: { i: number } }).msg.i)).toEqual([...Array(50).keys()]);
    expect(written()).toBe(50);
  });

  it('sends a full batch at once', () => {
    const { box } = outbox();
    const sink = new FakeSink();
    box.attach(sink);
    for (let i = 0; i < 250; i++) box.push(tell(i));
    expect(sink.batches().map((b) => b.length)).toEqual([100, 100]);
  });

  it('holds frames while the sink needs drain or is absent, and sends them in order after', async () => {
    const { box } = outbox();
    const sink = new FakeSink(1);
    box.attach(sink);
    box.push(tell(0));
    await microtasks();
    box.push(tell(1));
    await microtasks();
    box.push(tell(2));
    await microtasks();
    expect(sink.frames).toHaveLength(1);
    expect(box.queuedEnvelopes).toBe(2);
    sink.drain(10);
    await microtasks();
    expect(sink.batches().flat().map((e) => (e as { msg: { i: number } }).msg.i)).toEqual([0, 1, 2]);
    box.detach();
    box.push(tell(3));
    await microtasks();
    const next = new FakeSink();
    box.attach(next);
    expect(next.batches().flat()).toHaveLength(1);
  });

  it('drops what exceeds the envelope or byte bound, and reports it', async () => {
    const { box, dropped } = outbox({ limits: { maxQueuedEnvelopes: 150 } });
    for (let i = 0; i < 200; i++) box.push(tell(i));
    await microtasks();
    expect(box.queuedEnvelopes).toBe(150);
    expect(dropped).toHaveLength(50);
    expect(dropped.every((d) => d.reason === 'queue-full')).toBe(true);

    const bytes = outbox({ limits: { maxQueuedBytes: 10_000 } });
    for (let i = 0; i < 100; i++) {
      bytes.box.push(tell(i, 'x'.repeat(500)));
      await microtasks();
    }
    expect(bytes.box.queuedBytes).toBeLessThanOrEqual(10_000);
    expect(bytes.box.queuedBytes).toBeGreaterThan(9_000);
    expect(bytes.dropped.length).toBeGreaterThan(70);

    // A frame larger than the whole bound still goes when nothing else is queued.
    const big = outbox({ limits: { maxQueuedBytes: 1_000 } });
    big.box.push(tell(0, 'x'.repeat(5_000)));
    big.box.push(tell(1, 'x'.repeat(5_000)));
    await microtasks();
    expect(big.box.queuedEnvelopes).toBe(2);
    big.box.push(tell(2));
    await microtasks();
    expect(big.dropped).toEqual([{ reason: 'queue-full', envelopes: 1 }]);
  });

  it('drops only the envelope that is too large or cannot be encoded', async () => {
    const { box, dropped } = outbox({ codec: new Codec({ maxFrameBytes: 2_000 }) });
    const sink = new FakeSink();
    box.attach(sink);
    box.push(tell(0));
    box.push(tell(1, 'x'.repeat(5_000)));
    box.push({ k: 'tell', to: { node: 'b', path: '/user/x', uid: 1 }, msg: { type: 'm', big: 2n ** 70n } });
    for (let i = 3; i < 10; i++) box.push(tell(i, 'y'.repeat(200)));
    await microtasks();
    expect(dropped).toEqual([
      { reason: 'too-large', envelopes: 1 },
      { reason: 'unencodable', envelopes: 1 },
    ]);
    expect(sink.batches().flat().map((e) => (e as { msg: { i: number } }).msg.i)).toEqual([0, 3, 4, 5, 6, 7, 8, 9]);
    // The batch that held them goes one envelope per frame; the next batch is whole again.
    expect(sink.batches().length).toBe(8);
    box.push(tell(10));
    box.push(tell(11));
    await microtasks();
    expect(sink.batches().at(-1)).toHaveLength(2);
  });

  it('keeps a frame the sink refused by closing, for the next sink', async () => {
    const { box } = outbox();
    const sink = new FakeSink();
    sink.closed = true;
    box.attach(sink);
    box.push(tell(0));
    await microtasks();
    const next = new FakeSink();
    box.attach(next);
    expect(next.batches().flat()).toHaveLength(1);
  });

  it('clears everything queued', async () => {
    const { box } = outbox();
    for (let i = 0; i < 120; i++) box.push(tell(i));
    expect(box.clear()).toBe(120);
    await microtasks();
    const sink = new FakeSink();
    box.attach(sink);
    expect(sink.frames).toHaveLength(0);
    expect(box.queuedBytes).toBe(0);
  });
});
