// Typed tables of records on flaredb's strong namespaces: what iam, prismnet and plasmavmc keep
// their resources in. A record is JSON validated against its TypeBox schema on every read and
// write; updates are optimistic (read, change, compare-and-swap, retry on conflict); lists page by
// key; a change feed lets controllers reconcile.
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { UltraError } from '../../../runtime/errors.ts';
import { prefixEnd, type ChangeFeed, type StrongKv } from './strong-kv.ts';

export interface Versioned<T> {
  readonly id: string;
  readonly record: T;
  readonly version: number;
}

export interface TableOptions<S extends TSchema> {
  /** flaredb namespace (strong), e.g. `prismnet`. */
  readonly namespace: string;
  /** Table name, the key prefix inside the namespace, e.g. `vpcs`. */
  readonly table: string;
  readonly schema: S;
  /** What the records are called in errors, e.g. `VPC`. */
  readonly noun: string;
  /** Optimistic-update attempts before giving up with Aborted (default 16). */
  readonly maxAttempts?: number;
}

export interface ListOptions {
  /** Only ids starting with this (e.g. `org/project/`). */
  readonly prefix?: string;
  readonly limit?: number;
  /** Continue after this id (the previous page's `next`). */
  readonly after?: string;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,254}$/;

export type TableChange<T> = { readonly type: 'put'; readonly item: Versioned<T> } | { readonly type: 'delete'; readonly id: string };

export class MetadataTable<S extends TSchema, T = Static<S>> {
  readonly #kv: StrongKv;
  readonly #options: TableOptions<S>;
  readonly #check;
  readonly #prefix: string;

  constructor(kv: StrongKv, options: TableOptions<S>) {
    this.#kv = kv;
    this.#options = options;
    this.#check = TypeCompiler.Compile(options.schema);
    this.#prefix = `${options.table}/`;
  }

  async get(id: string): Promise<Versioned<T> | undefined> {
    checkId(id);
    const entry = await this.#kv.get(this.#options.namespace, this.#prefix + id);
    return entry === undefined ? undefined : { id, record: this.#decode(entry.value, id), version: entry.version };
  }

  /** The record, or NotFound naming it. */
  async require(id: string): Promise<Versioned<T>> {
    const found = await this.get(id);
    if (found === undefined) throw new UltraError('NotFound', `${this.#options.noun} '${id}' not found`);
    return found;
  }

  /** Creates the record; AlreadyExists if the id is taken. */
  async create(id: string, record: T): Promise<Versioned<T>> {
    checkId(id);
    const result = await this.#kv.compareAndSwap(this.#options.namespace, this.#prefix + id, this.#encode(record), 0);
    if (!result.succeeded) throw new UltraError('AlreadyExists', `${this.#options.noun} '${id}' already exists`);
    return { id, record, version: result.version };
  }

  /** Writes the record if it is still at `expectedVersion`; Aborted (conflict) otherwise. */
  async replace(id: string, record: T, expectedVersion: number): Promise<Versioned<T>> {
    checkId(id);
    const result = await this.#kv.compareAndSwap(this.#options.namespace, this.#prefix + id, this.#encode(record), expectedVersion);
    if (!result.succeeded) {
      if (result.version === 0) throw new UltraError('NotFound', `${this.#options.noun} '${id}' not found`);
      throw new UltraError('Aborted', `${this.#options.noun} '${id}' changed concurrently (version ${result.version}, expected ${expectedVersion}); retry`);
    }
    return { id, record, version: result.version };
  }

  /**
   * Reads, applies `change`, and writes back, retrying on conflict. `change` may throw to refuse
   * (nothing is written) and must be pure: it can run more than once.
   */
  async update(id: string, change: (current: T) => T): Promise<Versioned<T>> {
    const attempts = this.#options.maxAttempts ?? 16;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const current = await this.require(id);
      const next = change(current.record);
      const result = await this.#kv.compareAndSwap(this.#options.namespace, this.#prefix + id, this.#encode(next), current.version);
      if (result.succeeded) return { id, record: next, version: result.version };
      if (result.version === 0) throw new UltraError('NotFound', `${this.#options.noun} '${id}' not found`);
    }
    throw new UltraError('Aborted', `${this.#options.noun} '${id}' kept changing concurrently; ${attempts} attempts failed, retry later`);
  }

  /** Deletes the record (at `expectedVersion` when given); NotFound if absent. */
  async delete(id: string, expectedVersion?: number): Promise<void> {
    checkId(id);
    const result = await this.#kv.delete(this.#options.namespace, this.#prefix + id, expectedVersion);
    if (result.succeeded) return;
    if (result.version === 0) throw new UltraError('NotFound', `${this.#options.noun} '${id}' not found`);
    throw new UltraError('Aborted', `${this.#options.noun} '${id}' changed concurrently (version ${result.version}, expected ${expectedVersion}); retry`);
  }

  /** One page of records in id order; `next` continues it. */
  async list(options: ListOptions = {}): Promise<{ readonly items: Versioned<T>[]; readonly next?: string }> {
    const limit = options.limit ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) throw new UltraError('InvalidArgument', `limit must be 1..${MAX_PAGE_SIZE}, got ${limit}`);
    const prefix = this.#prefix + (options.prefix ?? '');
    const start = options.after === undefined ? prefix : `${this.#prefix}${options.after}\u0000`;
    if (start < prefix) throw new UltraError('InvalidArgument', `after '${options.after}' is outside prefix '${options.prefix ?? ''}'`);
    const page = await this.#kv.scan(this.#options.namespace, start, prefixEnd(prefix), limit);
    const items = page.entries.map((e) => {
      const id = e.key.slice(this.#prefix.length);
      return { id, record: this.#decode(e.value, id), version: e.version };
    });
    const last = items.at(-1);
    return page.nextKey === undefined || last === undefined ? { items } : { items, next: last.id };
  }

  /** Every record under `prefix`, across pages. */
  async listAll(prefix = ''): Promise<Versioned<T>[]> {
    const all: Versioned<T>[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.list({ prefix, limit: MAX_PAGE_SIZE, ...(after === undefined ? {} : { after }) });
      all.push(...page.items);
      if (page.next === undefined) return all;
      after = page.next;
    }
  }

  /** How many records there are under `prefix` (pages through the keys; for status and tests). */
  async count(prefix = ''): Promise<number> {
    const start = this.#prefix + prefix;
    const end = prefixEnd(start);
    let n = 0;
    for (let from: string | undefined = start; from !== undefined; ) {
      const page = await this.#kv.scan(this.#options.namespace, from, end, MAX_PAGE_SIZE);
      n += page.entries.length;
      from = page.nextKey;
    }
    return n;
  }

  /** Changes to the table after the call; `onReset` means re-list (events may have been missed). */
  watch(onChange: (change: TableChange<T>) => void, onReset: () => void): Promise<ChangeFeed> {
    return this.#kv.watch(
      this.#options.namespace,
      this.#prefix,
      (event) => {
        if (event.type === 'delete') {
          onChange({ type: 'delete', id: event.key.slice(this.#prefix.length) });
        } else {
          const id = event.entry.key.slice(this.#prefix.length);
          onChange({ type: 'put', item: { id, record: this.#decode(event.entry.value, id), version: event.entry.version } });
        }
      },
      onReset,
    );
  }

  #encode(record: T): Uint8Array {
    if (!this.#check.Check(record)) {
      const problems = [...this.#check.Errors(record)].slice(0, 3).map((e) => `${e.path || '/'}: ${e.message}`);
      throw new UltraError('InvalidArgument', `invalid ${this.#options.noun}: ${problems.join('; ')}`);
    }
    return new TextEncoder().encode(JSON.stringify(record));
  }

  #decode(value: Uint8Array, id: string): T {
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(value));
    } catch {
      throw new UltraError('Internal', `${this.#options.noun} '${id}' is stored corrupt (not JSON)`);
    }
    if (!this.#check.Check(parsed)) throw new UltraError('Internal', `${this.#options.noun} '${id}' is stored in a shape its schema rejects`);
    return parsed as T;
  }
}

function checkId(id: string): void {
  if (!ID_PATTERN.test(id)) throw new UltraError('InvalidArgument', `invalid id '${id}': 1–255 characters of letters, digits and ._:@/-, starting with a letter or digit`);
}
