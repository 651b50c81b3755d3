// Cuts a byte stream (chunks split anywhere) back into frames and decodes each one, turning bad
// frames into typed errors without losing the frames around them.
import { UltraError } from '../errors.ts';
import { Codec } from './codec.ts';
import { checkMaxFrameBytes, FRAME_HEADER_BYTES } from './framing.ts';

/** Anything that turns a decoded value into a checked message; a MessageRegistry is one. */
export interface MessageValidator<T> {
  validate(value: unknown): T;
}

export interface FrameDecoderOptions<T> {
  /** Bodies declared longer than this fail the decoder (see FrameDecoder). Required: pick it per link. */
  readonly maxFrameBytes: number;
  readonly codec?: Codec;
  /** When given, every decoded value must pass it; without one, values are `unknown` data. */
  readonly registry?: MessageValidator<T>;
}

export interface FrameDecoderStats {
  /** Frames delivered as values (decoded, and valid when there is a registry). */
  readonly framesDecoded: number;
  /** Frames whose body was not one well-formed MessagePack value. */
  readonly malformed: number;
  /** Length headers over maxFrameBytes (at most 1: the decoder fails on the first). */
  readonly oversized: number;
  /** Frames the registry rejected. */
  readonly invalid: number;
}

/**
 * What one push produced. Values keep stream order. Each error stands for one dropped frame:
 * InvalidArgument (malformed or invalid; decoding went on with the next frame) or
 * ResourceExhausted (oversized; the decoder has failed, see `failed`).
 */
export interface DecodedFrames<T> {
  readonly values: T[];
  readonly errors: UltraError[];
}

/**
 * Reassembles frames across arbitrary chunk boundaries.
 *
 * A bad body costs only its own frame, because its header already said where the next frame
 * starts. A length header over `maxFrameBytes` is different: the header is the stream's only
 * boundary marker, and one that cannot be honoured most likely means the stream is out of step
 * or hostile, so nothing after it can be trusted to be a frame (and skipping the declared length
 * would mean swallowing up to 4 GiB on the word of that same header). The decoder therefore
 * fails: that push reports ResourceExhausted, and every later push throws FailedPrecondition —
 * the owner must close the connection.
 */
export class FrameDecoder<T = unknown> {
  readonly #maxFrameBytes: number;
  readonly #codec: Codec;
  readonly #registry: MessageValidator<T> | undefined;
  readonly #stats = { framesDecoded: 0, malformed: 0, oversized: 0, invalid: 0 };
  readonly #header = new Uint8Array(FRAME_HEADER_BYTES);
  #headerFilled = 0;
  /** Body length of the frame being assembled; undefined while its header is still arriving. */
  #bodyLength: number | undefined;
  /** Body bytes received so far, copied because the caller may reuse a chunk once push returns. */
  #bodyParts: Uint8Array[] = [];
  #bodyFilled = 0;
  #failure: UltraError | undefined;

  constructor(options: FrameDecoderOptions<T>) {
    this.#maxFrameBytes = checkMaxFrameBytes(options.maxFrameBytes);
    this.#codec = options.codec ?? new Codec();
    this.#registry = options.registry;
  }

  get stats(): FrameDecoderStats {
    return { ...this.#stats };
  }

  /** True once an oversized header was seen; the connection must then be closed. */
  get failed(): boolean {
    return this.#failure !== undefined;
  }

  push(chunk: Uint8Array): DecodedFrames<T> {
    if (this.#failure !== undefined) {
      throw new UltraError(
        'FailedPrecondition',
        `frame decoder has failed (${this.#failure.message}); the connection must be closed`,
      );
    }
    const values: T[] = [];
    const errors: UltraError[] = [];
    let offset = 0;
    for (;;) {
      if (this.#bodyLength === undefined) {
        const n = Math.min(FRAME_HEADER_BYTES - this.#headerFilled, chunk.length - offset);
        this.#header.set(chunk.subarray(offset, offset + n), this.#headerFilled);
        this.#headerFilled += n;
        offset += n;
        if (this.#headerFilled < FRAME_HEADER_BYTES) break;
        this.#headerFilled = 0;
        const length = new DataView(this.#header.buffer).getUint32(0, false);
        if (length > this.#maxFrameBytes) {
          this.#stats.oversized++;
          this.#failure = new UltraError(
            'ResourceExhausted',
            `frame declares a ${length}-byte body, over the ${this.#maxFrameBytes}-byte limit`,
          );
          errors.push(this.#failure);
          break;
        }
        this.#bodyLength = length;
      }
      const wanted = this.#bodyLength - this.#bodyFilled;
      const bytes = chunk.subarray(offset, offset + Math.min(wanted, chunk.length - offset));
      offset += bytes.length;
      let body: Uint8Array;
      if (this.#bodyFilled === 0 && bytes.length === wanted) {
        // The whole body is in this chunk: decode it in place, since decoding copies what it keeps.
        body = bytes;
      } else {
        if (bytes.length > 0) this.#bodyParts.push(new Uint8Array(bytes));
        this.#bodyFilled += bytes.length;
        if (this.#bodyFilled < this.#bodyLength) break;
        body = concat(this.#bodyParts, this.#bodyLength);
        this.#bodyParts = [];
        this.#bodyFilled = 0;
      }
      this.#bodyLength = undefined;
      this.#deliver(body, values, errors);
    }
    return { values, errors };
  }

  #deliver(body: Uint8Array, values: T[], errors: UltraError[]): void {
    let decoded: unknown;
    try {
      decoded = this.#codec.decode(body);
    } catch (error) {
      this.#stats.malformed++;
      errors.push(UltraError.from(error));
      return;
    }
    if (this.#registry === undefined) {
      values.push(decoded as T);
    } else {
      try {
        values.push(this.#registry.validate(decoded));
      } catch (error) {
        this.#stats.invalid++;
        errors.push(UltraError.from(error));
        return;
      }
    }
    this.#stats.framesDecoded++;
  }
}

function concat(parts: readonly Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1 && parts[0]!.length === length) return parts[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
