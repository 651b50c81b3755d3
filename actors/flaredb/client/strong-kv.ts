// The strong-namespace operations of flaredb, as every other component sees them: versioned
// get, compare-and-swap, ordered scans with a continuation key, and a change feed. flaredb's
// client implements it over the cluster (region routing, retries); MetadataTable builds typed
// tables on it. Keys are UTF-8 strings; versions start at 1 and grow with every write of a key.

export interface VersionedEntry {
  readonly key: string;
  readonly value: Uint8Array;
  readonly version: number;
}

export interface CasResult {
  readonly succeeded: boolean;
  /** On success the new version; on failure the version currently stored (0 = absent), for retry. */
  readonly version: number;
}

export interface ScanPage {
  readonly entries: readonly VersionedEntry[];
  /** Where the next page starts (inclusive), when there may be more. */
  readonly nextKey?: string;
}

export type ChangeEvent =
  | { readonly type: 'put'; readonly entry: VersionedEntry }
  | { readonly type: 'delete'; readonly key: string };

export interface ChangeFeed {
  cancel(): void;
}

export interface StrongKv {
  get(namespace: string, key: string): Promise<VersionedEntry | undefined>;
  /** Writes `value` if the key's version is `expectedVersion` (0 = create if absent). */
  compareAndSwap(namespace: string, key: string, value: Uint8Array, expectedVersion: number): Promise<CasResult>;
  /** Deletes the key if its version is `expectedVersion` (undefined = whatever it is); absent keys fail. */
  delete(namespace: string, key: string, expectedVersion?: number): Promise<CasResult>;
  /** Keys in [startKey, endKey) in order; endKey undefined = no upper bound. */
  scan(namespace: string, startKey: string, endKey: string | undefined, limit: number): Promise<ScanPage>;
  /**
   * Calls `onChange` for every write under `prefix` committed after the feed starts, in commit
   * order per key. `onReset` is called when events may have been missed (leader change, region
   * split, reconnect): the subscriber must re-list.
   */
  watch(namespace: string, prefix: string, onChange: (event: ChangeEvent) => void, onReset: () => void): Promise<ChangeFeed>;
  /** Creates the namespace in strong mode if it does not exist. */
  ensureStrongNamespace(namespace: string): Promise<void>;
}

/** The first key after every key starting with `prefix` (the scan end of a prefix). */
export function prefixEnd(prefix: string): string | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const code = prefix.charCodeAt(i);
    if (code < 0xffff) return prefix.slice(0, i) + String.fromCharCode(code + 1);
  }
  return undefined;
}
