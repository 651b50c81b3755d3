// The wire codec for actor messages: MessagePack bodies, and length-prefixed frames (layout in
// framing.ts) so a byte stream can be cut back into messages.
import { C1, Packr } from 'msgpackr';
import { UltraError } from '../errors.ts';
import { clipText } from './clip-text.ts';
import { checkMaxFrameBytes, DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES } from './framing.ts';

export interface CodecOptions {
  /** Frames with a larger body are refused at encode time (the peer would refuse them anyway). Default 16 MiB. */
  readonly maxFrameBytes?: number;
}

/**
 * Encodes values as standard MessagePack maps (no msgpackr records, which need shared state
 * between the two ends) and decodes them back.
 *
 * Round trips keep JSON-like values, `undefined`, bigint, Date and Uint8Array (which decode as
 * plain Uint8Array), with three exceptions: -0 encodes as the integer 0; an own `__proto__` key is
 * renamed `__proto_` on decode (msgpackr's guard against prototype pollution); and strings travel
 * as UTF-8, so a lone surrogate comes back as U+FFFD.
 */
export class Codec {
  readonly maxFrameBytes: number;
  // copyBuffers: decoded byte arrays must not alias the input, which callers reuse for the next frame.
  readonly #packr = new Packr({ useRecords: false, copyBuffers: true });

  constructor(options: CodecOptions = {}) {
    this.maxFrameBytes = checkMaxFrameBytes(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
  }

  encode(value: unknown): Uint8Array {
    // msgpackr hands out views into a shared scratch slab; copying keeps a stored message from
    // pinning that whole slab, and returns a plain Uint8Array rather than a Buffer.
    return new Uint8Array(this.#pack(value));
  }

  /** Decodes exactly one value; malformed input or trailing bytes are InvalidArgument. */
  decode(bytes: Uint8Array): unknown {
    // A plain Uint8Array view makes decoded binaries plain Uint8Arrays even when `bytes` is a Buffer.
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let value: unknown;
    try {
      value = this.#packr.unpack(view);
    } catch (error) {
      // Includes RangeError from nesting deep enough to exhaust the stack.
      const reason = error instanceof Error ? error.message : String(error);
      throw new UltraError('InvalidArgument', `malformed MessagePack: ${clipText(reason)}`);
    }
    // msgpackr decodes the never-used byte 0xc1 to a marker object instead of failing.
    if (value === C1) throw new UltraError('InvalidArgument', 'malformed MessagePack: 0xc1 is never used');
    return value;
  }

  /** Encodes `value` as one frame: body length (uint32, big-endian), then the body. */
  encodeFrame(value: unknown): Uint8Array {
    const body = this.#pack(value);
    if (body.length > this.maxFrameBytes) {
      throw new UltraError(
        'ResourceExhausted',
        `message encodes to ${body.length} bytes, over the ${this.maxFrameBytes}-byte frame limit`,
      );
    }
    const frame = new Uint8Array(FRAME_HEADER_BYTES + body.length);
    new DataView(frame.buffer).setUint32(0, body.length, false);
    frame.set(body, FRAME_HEADER_BYTES);
    return frame;
  }

  #pack(value: unknown): Uint8Array {
    try {
      return this.#packr.pack(value);
    } catch (error) {
      // e.g. a bigint wider than 64 bits.
      const reason = error instanceof Error ? error.message : String(error);
      throw new UltraError('InvalidArgument', `cannot encode value: ${clipText(reason)}`);
    }
  }
}
