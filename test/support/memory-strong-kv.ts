// An in-memory StrongKv for unit and actor tests of the components that keep records in flaredb
// (iam, prismnet, plasmavmc): the same CAS, scan and change-feed semantics, one process, no Raft.
import { UltraError } from '../../runtime/errors.ts';
import type { CasResult, ChangeEvent, ChangeFeed, ScanPage, StrongKv, VersionedEntry } from '../../actors/flaredb/client/strong-kv.ts';

export class MemoryStrongKv implements StrongKv {
  readonly #namespaces = new Map<string, Map<string, VersionedEntry>>();
  readonly #feeds = new Set<{ namespace: string; prefix: string; onChange: (event: ChangeEvent) => void }>();
  /** Operations served, for tests that assert nothing was written. */
  writes = 0;

  ensureStrongNamespace(namespace: string): Promise<void> {
    if (!this.#namespaces.has(namespace)) this.#namespaces.set(namespace, new Map());
    return Promise.resolve();
  }

  get(namespace: string, key: string): Promise<VersionedEntry | undefined> {
    return Promise.resolve(this.#ns(namespace).get(key));
  }

  compareAndSwap(namespace: string, key: string, value: Uint8Array, expectedVersion: number): Promise<CasResult> {
    const ns = this.#ns(namespace);
    const current = ns.get(key)?.version ?? 0;
    if (current !== expectedVersion) return Promise.resolve({ succeeded: false, version: current });
    const entry = { key, value: value.slice(), version: current + 1 };
    ns.set(key, entry);
    this.writes++;
    this.#emit(namespace, { type: 'put', entry });
    return Promise.resolve({ succeeded: true, version: entry.version });
  }

  delete(namespace: string, key: string, expectedVersion?: number): Promise<CasResult> {
    const ns = this.#ns(namespace);
    const current = ns.get(key)?.version ?? 0;
    if (current === 0 || (expectedVersion !== undefined && current !== expectedVersion)) return Promise.resolve({ succeeded: false, version: current });
    ns.delete(key);
    this.writes++;
    this.#emit(namespace, { type: 'delete', key });
    return Promise.resolve({ succeeded: true, version: current });
  }

  scan(namespace: string, startKey: string, endKey: string | undefined, limit: number): Promise<ScanPage> {
    const keys = [...this.#ns(namespace).keys()].filter((k) => k >= startKey && (endKey === undefined || k < endKey)).sort();
    const entries = keys.slice(0, limit).map((k) => this.#ns(namespace).get(k)!);
    const next = keys[limit];
    return Promise.resolve(next === undefined ? { entries } : { entries, nextKey: next });
  }

  watch(namespace: string, prefix: string, onChange: (event: ChangeEvent) => void): Promise<ChangeFeed> {
    const feed = { namespace, prefix, onChange };
    this.#feeds.add(feed);
    return Promise.resolve({ cancel: () => this.#feeds.delete(feed) });
  }

  #ns(namespace: string): Map<string, VersionedEntry> {
    const ns = this.#namespaces.get(namespace);
    if (ns === undefined) throw new UltraError('NotFound', `namespace '${namespace}' not found`);
    return ns;
  }

  #emit(namespace: string, event: ChangeEvent): void {
    const key = event.type === 'put' ? event.entry.key : event.key;
    for (const feed of this.#feeds) if (feed.namespace === namespace && key.startsWith(feed.prefix)) feed.onChange(event);
  }
}
