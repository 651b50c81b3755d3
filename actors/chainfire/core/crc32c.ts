// CRC-32C (Castagnoli), the checksum etcd's Hash and HashKV report (Go's crc32.Castagnoli table).
// Table-driven, one byte at a time: hashes are computed on demand by operators, not per request.

const POLYNOMIAL = 0x82f63b78; // reversed Castagnoli polynomial

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** An incremental CRC-32C: update() in any number of pieces, then value(). */
export class Crc32c {
  #crc = 0xffffffff;

  update(bytes: Uint8Array): this {
    let crc = this.#crc;
    for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
    this.#crc = crc;
    return this;
  }

  /** The checksum of everything passed so far, as an unsigned 32-bit integer. */
  value(): number {
    return (this.#crc ^ 0xffffffff) >>> 0;
  }
}

export function crc32c(bytes: Uint8Array): number {
  return new Crc32c().update(bytes).value();
}
