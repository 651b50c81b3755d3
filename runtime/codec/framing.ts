// The frame layout shared by the encoder and the stream decoder: a 4-byte big-endian body
// length, then the body; and the bound both ends put on body size.
import { UltraError } from '../errors.ts';

export const FRAME_HEADER_BYTES = 4;

/** A sensible bound on frame bodies for both ends of a connection: 16 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** The largest body a 4-byte length header can declare. */
const MAX_DECLARABLE_FRAME_BYTES = 0xffff_ffff;

/** Returns `maxFrameBytes` if a header can express it, else throws InvalidArgument. */
export function checkMaxFrameBytes(maxFrameBytes: number): number {
  if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > MAX_DECLARABLE_FRAME_BYTES) {
    throw new UltraError(
      'InvalidArgument',
      `maxFrameBytes must be an integer in [1, ${MAX_DECLARABLE_FRAME_BYTES}], got ${maxFrameBytes}`,
    );
  }
  return maxFrameBytes;
}
