// Request validation shared by the client, the store and the HTTP API: every bad input is an
// InvalidArgument that says what is allowed, raised before anything is sent or changed.
import { UltraError } from '../../../runtime/errors.ts';
import { DEFAULT_SCAN_LIMIT, MAX_KEY_BYTES, MAX_SCAN_LIMIT, MAX_VALUE_BYTES, NAMESPACE_PATTERN } from './limits.ts';

export type ConsistencyMode = 'strong' | 'eventual';

const encoder = new TextEncoder();

export function isConsistencyMode(value: unknown): value is ConsistencyMode {
  return value === 'strong' || value === 'eventual';
}

export function checkNamespace(namespace: unknown): string {
  if (typeof namespace !== 'string' || !NAMESPACE_PATTERN.test(namespace)) {
    throw new UltraError('InvalidArgument', `invalid namespace ${JSON.stringify(namespace)}: 1–63 characters of a-z, 0-9, '-' and '_', starting with a letter`);
  }
  return namespace;
}

export function checkMode(mode: unknown): ConsistencyMode {
  if (!isConsistencyMode(mode)) throw new UltraError('InvalidArgument', `invalid consistency mode ${JSON.stringify(mode)}: expected "strong" or "eventual"`);
  return mode;
}

/** UTF-8 length of a string, without allocating for pure-ASCII strings. */
export function utf8Length(text: string): number {
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  return ascii ? text.length : encoder.encode(text).length;
}

export function checkKey(key: unknown, what = 'key'): string {
  if (typeof key !== 'string' || key.length === 0) throw new UltraError('InvalidArgument', `${what} must be a non-empty string`);
  if (key.length > MAX_KEY_BYTES || utf8Length(key) > MAX_KEY_BYTES) {
    throw new UltraError('InvalidArgument', `${what} is ${utf8Length(key)} bytes; at most ${MAX_KEY_BYTES} bytes of UTF-8 are allowed`);
  }
  return key;
}

export function checkValue(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new UltraError('InvalidArgument', 'value must be bytes');
  if (value.byteLength > MAX_VALUE_BYTES) throw new UltraError('InvalidArgument', `value is ${value.byteLength} bytes; at most ${MAX_VALUE_BYTES} bytes are allowed`);
  return value;
}

export function checkExpectedVersion(version: unknown, what = 'expected_version'): number {
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
    throw new UltraError('InvalidArgument', `${what} must be a non-negative integer (0 = the key must be absent), got ${JSON.stringify(version)}`);
  }
  return version;
}

export interface ScanRange {
  readonly start: string;
  readonly end: string | undefined;
  readonly limit: number;
}

/**
 * A scan's range and page size: start inclusive (may be empty: from the namespace's first key), end
 * exclusive (undefined: to its last key), limit 1..MAX_SCAN_LIMIT (0 or undefined: the default).
 */
export function checkScan(start: unknown, end: unknown, limit: unknown): ScanRange {
  if (typeof start !== 'string') throw new UltraError('InvalidArgument', 'scan start must be a string (empty = from the first key)');
  if (start.length > 0) checkKey(start, 'scan start');
  if (end !== undefined) {
    checkKey(end, 'scan end');
    if ((end as string) <= start) throw new UltraError('InvalidArgument', `invalid scan range: end ${JSON.stringify(end)} must sort after start ${JSON.stringify(start)}`);
  }
  let resolved = DEFAULT_SCAN_LIMIT;
  if (limit !== undefined && limit !== 0) {
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_SCAN_LIMIT) {
      throw new UltraError('InvalidArgument', `scan limit must be 1..${MAX_SCAN_LIMIT} (0 or omitted = ${DEFAULT_SCAN_LIMIT}), got ${JSON.stringify(limit)}`);
    }
    resolved = limit;
  }
  return { start, end: end as string | undefined, limit: resolved };
}
