// How events and snapshot states are stored: the runtime's MessagePack codec (no msgpackr
// records, whose shared structures would tie stored bytes to one encoder's state). Values must be
// plain data — JSON-like values, undefined, 64-bit bigint, Date, Uint8Array. A Map comes back as
// an object and a function as undefined, so state that must survive recovery should avoid both.
import { Codec } from '../codec/codec.ts';
import { UltraError } from '../errors.ts';

const codec = new Codec();

export function encodeValue(value: unknown, what: string): Uint8Array {
  try {
    return codec.encode(value);
  } catch (error) {
    throw new UltraError('InvalidArgument', `${what} cannot be encoded: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Decodes a stored value; bytes that do not decode mean the store is corrupt (Internal). */
export function decodeValue(bytes: Uint8Array, what: string): unknown {
  try {
    return codec.decode(bytes);
  } catch (error) {
    throw new UltraError('Internal', `stored ${what} is corrupt: ${error instanceof Error ? error.message : String(error)}`);
  }
}
