// HPACK's Huffman code (RFC 7541 Appendix B), decoding only: clients Huffman-encode header strings
// when that is shorter, while this server's own headers go out as plain literals. The code is
// canonical — codes of one length are consecutive, in symbol order, and each length continues
// where the shorter ones ended — so the table is fully given by its code lengths.

/** Code length in bits of symbols 0…255 and EOS (256), as listed in RFC 7541 Appendix B. */
const CODE_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6,
  12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13,
  14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14,
  13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23,
  23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22,
  22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27,
  27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27,
  27, 26, 30,
];

const EOS = 256;
const MAX_BITS = 30;

/** A symbol's code, for tests that encode. */
export function huffmanCode(symbol: number): { readonly code: number; readonly bits: number } {
  return { code: CANONICAL.codes[symbol]!, bits: CODE_LENGTHS[symbol]! };
}

interface Canonical {
  /** Per length: the first code of that length, how many codes have it, and where its symbols start in `symbols`. */
  readonly first: Int32Array;
  readonly count: Int32Array;
  readonly offset: Int32Array;
  /** Symbols ordered by (length, symbol). */
  readonly symbols: Uint16Array;
  readonly codes: Uint32Array;
}

function canonical(): Canonical {
  const count = new Int32Array(MAX_BITS + 1);
  for (const bits of CODE_LENGTHS) count[bits]!++;
  const first = new Int32Array(MAX_BITS + 1);
  const offset = new Int32Array(MAX_BITS + 1);
  let code = 0;
  let index = 0;
  for (let bits = 1; bits <= MAX_BITS; bits++) {
    code = (code + count[bits - 1]!) << 1;
    first[bits] = code;
    offset[bits] = index;
    index += count[bits]!;
  }
  const symbols = new Uint16Array(CODE_LENGTHS.length);
  const codes = new Uint32Array(CODE_LENGTHS.length);
  const next = Int32Array.from(first);
  const slot = Int32Array.from(offset);
  for (let bits = 1; bits <= MAX_BITS; bits++) {
    for (let symbol = 0; symbol < CODE_LENGTHS.length; symbol++) {
      if (CODE_LENGTHS[symbol] !== bits) continue;
      symbols[slot[bits]!++] = symbol;
      codes[symbol] = next[bits]!++;
    }
  }
  return { first, count, offset, symbols, codes };
}

const CANONICAL = canonical();

/**
 * Decodes a Huffman-coded string literal to its octets (as a latin1 string: header octets one to
 * one), or returns undefined when the input is not a valid encoding: a code for EOS, padding
 * longer than 7 bits, or padding that is not the most significant bits of EOS (all ones).
 */
export function huffmanDecode(input: Uint8Array): string | undefined {
  const { first, count, offset, symbols } = CANONICAL;
  let out = '';
  let code = 0;
  let bits = 0;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((byte >> bit) & 1);
      bits++;
      const rank = code - first[bits]!;
      if (rank < count[bits]!) {
        const symbol = symbols[offset[bits]! + rank]!;
        if (symbol === EOS) return undefined;
        out += String.fromCharCode(symbol);
        code = 0;
        bits = 0;
      } else if (bits >= MAX_BITS) {
        return undefined;
      }
    }
  }
  // What is left is padding: under 8 bits, all ones.
  if (bits > 7 || code !== (1 << bits) - 1) return undefined;
  return out;
}
