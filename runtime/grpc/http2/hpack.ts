// HPACK (RFC 7541) for a server: a decoder for request header blocks, with the dynamic table
// clients index into, and the few encodings this server's responses need. Responses use no
// dynamic table (static indexes and literals "without indexing"), so the client's table limit
// never matters here and the encoder keeps no state.
import { huffmanDecode } from './huffman.ts';

/** A decoded header list: names lower-case as HTTP/2 requires, repeated names in arrival order. */
export type HeaderList = Array<[name: string, value: string]>;

/** RFC 7541 Appendix A: the static table, index 1…61. */
const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];

/** An entry's size for the table limit: its octets plus 32 (RFC 7541 §4.1). */
const entrySize = (name: string, value: string): number => name.length + value.length + 32;

export class HpackError extends Error {}

export class HpackDecoder {
  /** Newest first, as HPACK indexes it. */
  #table: Array<readonly [string, string]> = [];
  #size = 0;
  /** The limit the encoder may set with a size update: what this side announced (SETTINGS_HEADER_TABLE_SIZE). */
  readonly #maxAllowed: number;
  #max: number;

  constructor(maxTableSize: number) {
    this.#maxAllowed = maxTableSize;
    this.#max = maxTableSize;
  }

  /**
   * Decodes one header block. Throws HpackError on anything malformed; the connection must then
   * end (COMPRESSION_ERROR), since the two tables no longer agree. A list over `maxListSize`
   * (names + values + 32 per field, as SETTINGS_MAX_HEADER_LIST_SIZE counts it) is still decoded
   * to the end, so the table stays in step, but comes back as undefined: the request is refused,
   * the connection lives on.
   */
  decode(block: Uint8Array, maxListSize: number): HeaderList | undefined {
    const headers: HeaderList = [];
    let listSize = 0;
    let pos = 0;
    let fieldsSeen = false;
    const integer = (prefixBits: number): number => {
      const mask = (1 << prefixBits) - 1;
      let value = block[pos++]! & mask;
      if (value < mask) return value;
      let shift = 0;
      for (;;) {
        if (pos >= block.length) throw new HpackError('truncated integer');
        const byte = block[pos++]!;
        value += (byte & 0x7f) * 2 ** shift;
        shift += 7;
        if ((byte & 0x80) === 0) break;
        if (shift > 28) throw new HpackError('integer too large');
      }
      return value;
    };
    const string = (): string => {
      if (pos >= block.length) throw new HpackError('truncated string');
      const huffman = (block[pos]! & 0x80) !== 0;
      const length = integer(7);
      if (pos + length > block.length) throw new HpackError('truncated string');
      const bytes = block.subarray(pos, pos + length);
      pos += length;
      if (!huffman) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
      const decoded = huffmanDecode(bytes);
      if (decoded === undefined) throw new HpackError('invalid Huffman string');
      return decoded;
    };
    const entry = (index: number): readonly [string, string] => {
      if (index >= 1 && index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
      const found = this.#table[index - STATIC_TABLE.length - 1];
      if (found === undefined) throw new HpackError(`header index ${index} is not in the table`);
      return found;
    };
    const emit = (name: string, value: string): void => {
      listSize += entrySize(name, value);
      if (listSize <= maxListSize) headers.push([name, value]);
      fieldsSeen = true;
    };
    while (pos < block.length) {
      const byte = block[pos]!;
      if (byte & 0x80) {
        // Indexed field.
        const index = integer(7);
        if (index === 0) throw new HpackError('header index 0');
        const [name, value] = entry(index);
        emit(name, value);
      } else if (byte & 0x40) {
        // Literal with incremental indexing.
        const index = integer(6);
        const name = index === 0 ? string() : entry(index)[0];
        const value = string();
        emit(name, value);
        this.#insert(name, value);
      } else if (byte & 0x20) {
        // Dynamic table size update: only at the start of a block, within what we announced.
        if (fieldsSeen) throw new HpackError('table size update after a header field');
        const size = integer(5);
        if (size > this.#maxAllowed) throw new HpackError(`table size update to ${size}, above the ${this.#maxAllowed} allowed`);
        this.#max = size;
        this.#evict();
      } else {
        // Literal without indexing (0000) or never indexed (0001): the same to a decoder.
        const index = integer(4);
        const name = index === 0 ? string() : entry(index)[0];
        const value = string();
        emit(name, value);
      }
    }
    return listSize <= maxListSize ? headers : undefined;
  }

  #insert(name: string, value: string): void {
    const size = entrySize(name, value);
    // An entry larger than the whole table empties it and is not added (RFC 7541 §4.4).
    this.#table.unshift([name, value]);
    this.#size += size;
    this.#evict();
  }

  #evict(): void {
    while (this.#size > this.#max) {
      const [name, value] = this.#table.pop()!;
      this.#size -= entrySize(name, value);
    }
  }
}

// ---- encoding: what responses need ----------------------------------------------------------

/** An HPACK integer with an N-bit prefix, the prefix's other bits given in `high`. */
function encodeInteger(value: number, prefixBits: number, high: number, out: number[]): void {
  const mask = (1 << prefixBits) - 1;
  if (value < mask) {
    out.push(high | value);
    return;
  }
  out.push(high | mask);
  value -= mask;
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
}

function encodeString(value: string, out: number[]): void {
  encodeInteger(value.length, 7, 0, out);
  for (let i = 0; i < value.length; i++) out.push(value.charCodeAt(i) & 0xff);
}

/**
 * A header block of literal fields "without indexing": a name in the static table is referred to
 * by its index, any other sent as a string. Values are octets (latin1); callers percent-encode
 * anything else, as gRPC does for grpc-message.
 */
export function encodeHeaderBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const out: number[] = [];
  for (const [name, value] of fields) {
    const index = STATIC_TABLE.findIndex(([staticName]) => staticName === name) + 1;
    if (index > 0) {
      encodeInteger(index, 4, 0, out);
    } else {
      out.push(0);
      encodeString(name, out);
    }
    encodeString(value, out);
  }
  return Buffer.from(out);
}
