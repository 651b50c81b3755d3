// gRPC's message framing on an HTTP/2 stream (PROTOCOL-HTTP2.md, Length-Prefixed-Message): a
// 1-byte compressed flag, a 4-byte big-endian length, then the message. DATA chunks split and
// join messages anywhere, so the reader keeps partial headers and bodies across chunks; the usual
// case, one whole message in one chunk, is handed on as a view without copying.
import type { GrpcError } from './status.ts';
import { GrpcStatus } from './status.ts';

export const GRPC_FRAME_HEADER_BYTES = 5;

/** One message off the wire: its bytes (still compressed when `compressed`). */
export interface GrpcFrame {
  readonly compressed: boolean;
  readonly bytes: Buffer;
}

/** A message framed for the wire, uncompressed. */
export function frameMessage(message: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(GRPC_FRAME_HEADER_BYTES + message.length);
  framed[0] = 0;
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, GRPC_FRAME_HEADER_BYTES);
  return framed;
}

/**
 * Cuts a stream's DATA chunks into messages. `push` returns undefined while all is well, or the
 * status to end the call with: a compressed flag other than 0 or 1 (INTERNAL), or a message
 * announced longer than `maxMessageBytes` (RESOURCE_EXHAUSTED, before any of it is buffered).
 * After an error the reader accepts nothing more.
 */
export class GrpcMessageReader {
  readonly #maxMessageBytes: number;
  readonly #onMessage: (frame: GrpcFrame) => void;
  /** Bytes of a header or body begun in an earlier chunk. */
  #partial: Buffer[] = [];
  #partialBytes = 0;
  /** The current message's flag and length once its header is complete; -1 while reading a header. */
  #compressed = false;
  #length = -1;
  #failed = false;

  constructor(maxMessageBytes: number, onMessage: (frame: GrpcFrame) => void) {
    this.#maxMessageBytes = maxMessageBytes;
    this.#onMessage = onMessage;
  }

  /** True between messages: a stream ending now ended cleanly. */
  get idle(): boolean {
    return this.#length === -1 && this.#partialBytes === 0;
  }

  push(chunk: Buffer): GrpcError | undefined {
    if (this.#failed) return undefined;
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#length === -1) {
        let flag: number;
        let length: number;
        // Fast path: a whole header in this chunk, none pending.
        if (this.#partialBytes === 0 && chunk.length - offset >= GRPC_FRAME_HEADER_BYTES) {
          flag = chunk[offset]!;
          length = chunk.readUInt32BE(offset + 1);
          offset += GRPC_FRAME_HEADER_BYTES;
        } else {
          const take = Math.min(GRPC_FRAME_HEADER_BYTES - this.#partialBytes, chunk.length - offset);
          this.#keep(chunk.subarray(offset, offset + take));
          offset += take;
          if (this.#partialBytes < GRPC_FRAME_HEADER_BYTES) return undefined;
          const header = this.#takePartial();
          flag = header[0]!;
          length = header.readUInt32BE(1);
        }
        const error = this.#header(flag, length);
        if (error !== undefined) return error;
        if (length === 0) this.#deliver(Buffer.alloc(0));
        continue;
      }
      const need = this.#length - this.#partialBytes;
      const available = chunk.length - offset;
      if (this.#partialBytes === 0 && available >= need) {
        this.#deliver(chunk.subarray(offset, offset + need));
        offset += need;
        continue;
      }
      const take = Math.min(need, available);
      this.#keep(chunk.subarray(offset, offset + take));
      offset += take;
      if (this.#partialBytes === this.#length) this.#deliver(this.#takePartial());
    }
    return undefined;
  }

  #header(flag: number, length: number): GrpcError | undefined {
    if (flag > 1) {
      this.#failed = true;
      return { code: GrpcStatus.INTERNAL, details: `Invalid gRPC message: compressed flag ${flag} (must be 0 or 1)` };
    }
    if (length > this.#maxMessageBytes) {
      this.#failed = true;
      return { code: GrpcStatus.RESOURCE_EXHAUSTED, details: `Received message larger than max (${length} vs ${this.#maxMessageBytes})` };
    }
    this.#compressed = flag === 1;
    this.#length = length;
    return undefined;
  }

  #deliver(bytes: Buffer): void {
    const compressed = this.#compressed;
    this.#length = -1;
    this.#compressed = false;
    this.#onMessage({ compressed, bytes });
  }

  #keep(bytes: Buffer): void {
    // Copied: the chunk's memory may be reused by the caller once push returns.
    this.#partial.push(Buffer.from(bytes));
    this.#partialBytes += bytes.length;
  }

  #takePartial(): Buffer {
    const whole = this.#partial.length === 1 ? this.#partial[0]! : Buffer.concat(this.#partial, this.#partialBytes);
    this.#partial = [];
    this.#partialBytes = 0;
    return whole;
  }
}
