// HPACK (runtime/grpc/http2): the decoder against RFC 7541 Appendix C's examples (sequences on one
// connection, so the dynamic table and its eviction are exercised), against an encoder written
// here that indexes and Huffman-codes at random, and against malformed blocks; the server's own
// literal encoding read back.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeHeaderBlock, HpackDecoder, HpackError, type HeaderList } from '../../../runtime/grpc/http2/hpack.ts';
import { huffmanCode, huffmanDecode } from '../../../runtime/grpc/http2/huffman.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const LIMIT = 64 * 1024;

const requests: HeaderList[] = [
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
  [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']],
];

/** Huffman-codes octets (latin1 string), padding with the most significant bits of EOS. */
function huffmanEncode(text: string): Buffer {
  const out: number[] = [];
  let acc = 0n;
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const { code, bits: length } = huffmanCode(text.charCodeAt(i));
    acc = (acc << BigInt(length)) | BigInt(code);
    bits += length;
    while (bits >= 8) {
      bits -= 8;
      out.push(Number((acc >> BigInt(bits)) & 0xffn));
    }
  }
  if (bits > 0) out.push(Number(((acc << BigInt(8 - bits)) | ((1n << BigInt(8 - bits)) - 1n)) & 0xffn));
  return Buffer.from(out);
}

function integer(value: number, prefixBits: number, high: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [high | value];
  const out = [high | max];
  for (value -= max; value >= 128; value = Math.floor(value / 128)) out.push((value % 128) | 128);
  out.push(value);
  return out;
}

function string(text: string, huffman: boolean): number[] {
  const bytes = huffman ? huffmanEncode(text) : Buffer.from(text, 'latin1');
  return [...integer(bytes.length, 7, huffman ? 0x80 : 0), ...bytes];
}

describe('HPACK decoder', () => {
  it('decodes RFC 7541 C.3: requests without Huffman coding, indexing into the dynamic table', () => {
    const decoder = new HpackDecoder(4096);
    expect(decoder.decode(hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d'), LIMIT)).toEqual(requests[0]);
    expect(decoder.decode(hex('8286 84be 5808 6e6f 2d63 6163 6865'), LIMIT)).toEqual(requests[1]);
    expect(decoder.decode(hex('8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65'), LIMIT)).toEqual(requests[2]);
  });

  it('decodes RFC 7541 C.4: the same requests Huffman-coded', () => {
    const decoder = new HpackDecoder(4096);
    expect(decoder.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'), LIMIT)).toEqual(requests[0]);
    expect(decoder.decode(hex('8286 84be 5886 a8eb 1064 9cbf'), LIMIT)).toEqual(requests[1]);
    expect(decoder.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'), LIMIT)).toEqual(requests[2]);
  });

  it('decodes RFC 7541 C.6: responses through a 256-octet table, evicting as they go', () => {
    const decoder = new HpackDecoder(256);
    const location: [string, string] = ['location', 'https://www.example.com'];
    expect(decoder.decode(hex('4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3'), LIMIT)).toEqual([
      [':status', '302'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], location,
    ]);
    expect(decoder.decode(hex('4883 640e ffc1 c0bf'), LIMIT)).toEqual([[':status', '307'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], location]);
    expect(decoder.decode(hex('88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07'), LIMIT)).toEqual([
      [':status', '200'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'], location, ['content-encoding', 'gzip'],
      ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
    ]);
    // Three entries fit now; a fourth index was evicted.
    expect(decoder.decode(hex('c0'), LIMIT)).toEqual([['date', 'Mon, 21 Oct 2013 20:13:22 GMT']]);
    expect(() => decoder.decode(hex('c1'), LIMIT)).toThrow(HpackError);
  });

  it('Huffman-decodes every octet sequence an encoder can produce', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const text = Buffer.from(bytes).toString('latin1');
        expect(huffmanDecode(huffmanEncode(text))).toBe(text);
      }),
    );
  });

  it('follows an encoder that indexes, Huffman-codes and resizes at random, block after block', () => {
    const name = fc.constantFrom('content-type', 'grpc-timeout', 'authorization', 'x-trace', ':path', 'te', 'user-agent');
    const field = fc.record({ name, value: fc.string({ maxLength: 40 }).map((s) => Buffer.from(s).toString('latin1')), mode: fc.constantFrom('index', 'plain', 'never'), huffman: fc.boolean() });
    fc.assert(
      fc.property(fc.array(fc.array(field, { maxLength: 8 }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 512 }), (blocks, tableSize) => {
        // The encoder's model of the dynamic table, to refer back to what it inserted.
        const table: Array<[string, string]> = [];
        const evict = () => {
          let size = table.reduce((sum, [n, v]) => sum + n.length + v.length + 32, 0);
          while (size > tableSize) {
            const [n, v] = table.pop()!;
            size -= n.length + v.length + 32;
          }
        };
        const decoder = new HpackDecoder(512);
        blocks.forEach((fields, i) => {
          const bytes: number[] = i === 0 ? integer(tableSize, 5, 0x20) : [];
          for (const { name: n, value, mode, huffman } of fields) {
            const at = table.findIndex(([tn, tv]) => tn === n && tv === value);
            if (at >= 0) {
              bytes.push(...integer(62 + at, 7, 0x80));
            } else if (mode === 'index') {
              bytes.push(0x40, ...string(n, huffman), ...string(value, huffman));
              table.unshift([n, value]);
              evict();
            } else {
              bytes.push(...integer(0, 4, mode === 'never' ? 0x10 : 0), ...string(n, huffman), ...string(value, huffman));
            }
          }
          expect(decoder.decode(Buffer.from(bytes), LIMIT)).toEqual(fields.map(({ name: n, value }) => [n, value]));
          // What the encoder evicted is gone from the decoder's table too.
          expect(() => decoder.decode(Buffer.from(integer(62 + table.length, 7, 0x80)), LIMIT)).toThrow(HpackError);
        });
      }),
    );
  });

  it('reads back the literal blocks the server encodes', () => {
    const fields: HeaderList = [[':status', '200'], ['content-type', 'application/grpc'], ['grpc-status', '13'], ['grpc-message', 'x'.repeat(300)]];
    expect(new HpackDecoder(4096).decode(encodeHeaderBlock(fields), LIMIT)).toEqual(fields);
  });

  it.each([
    ['index 0', '80'],
    ['an index past the tables', 'be'],
    ['a truncated string', '00036162'],
    ['a truncated integer', '0fff'],
    ['a Huffman code for EOS', '8104' + 'ff'.repeat(3) + 'fc'],
    ['Huffman padding that is not all ones', '0081' + '00'],
    ['Huffman padding of 8 bits or more', '008201' + 'ff'],
    ['a table size above the announced limit', '3fe21f'],
    ['a table size update after a field', '82 20'],
  ])('refuses %s', (_what, bytes) => {
    expect(() => new HpackDecoder(4096).decode(hex(bytes), LIMIT)).toThrow(HpackError);
  });

  it('decodes a header list over the limit to the end, keeping the table in step, and returns undefined', () => {
    const decoder = new HpackDecoder(4096);
    const big = [0x40, ...string('x-big', false), ...string('y'.repeat(100), false)];
    const small = [0x40, ...string('x-small', false), ...string('z', false)];
    expect(decoder.decode(Buffer.from([...small, ...big]), 100)).toBeUndefined();
    expect(decoder.decode(Buffer.from([0xbe, 0xbf]), 200)).toEqual([['x-big', 'y'.repeat(100)], ['x-small', 'z']]);
  });
});
