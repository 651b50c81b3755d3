// iam's audit log: every authorization that denies and every change to iam itself, with who did
// what to which resource and how it ended. Each entry is logged at once through pino (for log
// shipping) and stored in flaredb's `iam/audit` table (for GET /api/v1/audit), in batches written
// by the replica's flush timer. Ids start with the zero-padded time, so a table scan is in time
// order and a query by time is a range. The buffer is bounded: past it entries are still logged
// but not stored, and counted.
import type { Env } from '../../runtime/env/env.ts';
import { UltraError } from '../../runtime/errors.ts';
import type { Logger } from '../../runtime/log/logger.ts';
import type { Counter } from '../../runtime/metrics/counter.ts';
import type { MetricsRegistry } from '../../runtime/metrics/metrics-registry.ts';
import type { Resource } from './core/authorizer.ts';
import type { IamStore } from './store/iam-store.ts';
import type { AuditRec } from './store/records.ts';
import type { AuditEntry, AuditQuery, Page } from './protocol.ts';

export const MAX_BUFFERED_AUDIT = 10_000;
const MAX_PER_FLUSH = 500;
const MAX_QUERY_LIMIT = 1_000;
/** Pages a query reads at most while filtering, so a selective filter cannot scan the table forever. */
const MAX_QUERY_PAGES = 20;
const PAGE = 500;

export function describeResource(resource: Resource): string {
  const where = resource.org === undefined ? '' : resource.project === undefined ? `orgs/${resource.org}/` : `orgs/${resource.org}/projects/${resource.project}/`;
  return `${where}${resource.kind}${resource.id === undefined ? '' : `/${resource.id}`}`;
}

export class AuditLog {
  readonly #store: IamStore;
  readonly #env: Env;
  readonly #log: Logger;
  readonly #node: string;
  readonly #nodeTag: string;
  #buffer: AuditRec[] = [];
  #seq = 0;
  #flushing: Promise<void> | undefined;
  readonly #dropped: Counter;
  readonly #recorded: Counter<'outcome'>;

  constructor(options: { store: IamStore; env: Env; log: Logger; node: string; metrics: MetricsRegistry }) {
    this.#store = options.store;
    this.#env = options.env;
    this.#log = options.log;
    this.#node = options.node;
    // Ids may hold [A-Za-z0-9._:@/-]; libp2p peer ids are base58 already.
    this.#nodeTag = options.node.replace(/[^A-Za-z0-9]/g, '').slice(-12) || 'node';
    this.#dropped = options.metrics.counter({ name: 'ultracloud_iam_audit_dropped_total', help: 'Audit entries logged but not stored because the buffer was full' });
    this.#recorded = options.metrics.counter({ name: 'ultracloud_iam_audit_entries_total', help: 'Audit entries recorded, by outcome', labelNames: ['outcome'] });
  }

  get buffered(): number {
    return this.#buffer.length;
  }

  record(entry: Omit<AuditEntry, 'atMs' | 'node'> & { readonly atMs?: number; readonly node?: string }): void {
    const rec: AuditRec = {
      atMs: Math.max(0, Math.floor(entry.atMs ?? this.#env.now())),
      node: clip(entry.node ?? this.#node, 200),
      principal: clip(entry.principal, 200),
      action: clip(entry.action, 200),
      resource: clip(entry.resource, 600),
      outcome: entry.outcome,
      reason: clip(entry.reason, 1000),
      ...(entry.binding === undefined ? {} : { binding: clip(entry.binding, 100) }),
      ...(entry.role === undefined ? {} : { role: clip(entry.role, 100) }),
      ...(entry.sourceIp === undefined ? {} : { sourceIp: clip(entry.sourceIp, 100) }),
    };
    this.#recorded.labels({ outcome: rec.outcome }).inc();
    this.#log.info({ audit: rec }, `iam audit: ${rec.principal} ${rec.action} ${rec.resource} ${rec.outcome}`);
    if (this.#buffer.length >= MAX_BUFFERED_AUDIT) {
      this.#dropped.inc();
      return;
    }
    this.#buffer.push(rec);
  }

  /** Stores what is buffered (at most one flush at a time; entries that fail to store are retried next time). */
  flush(): Promise<void> {
    if (this.#flushing !== undefined || this.#buffer.length === 0) return this.#flushing ?? Promise.resolve();
    const batch = this.#buffer.splice(0, MAX_PER_FLUSH);
    this.#flushing = (async () => {
      const failed: AuditRec[] = [];
      await Promise.all(
        batch.map(async (rec) => {
          try {
            await this.#store.audit.create(this.#id(rec.atMs), rec);
          } catch (error) {
            failed.push(rec);
            this.#log.debug({ err: error }, 'audit entry not stored yet; will retry');
          }
        }),
      );
      if (failed.length > 0) {
        const room = MAX_BUFFERED_AUDIT - this.#buffer.length;
        this.#buffer.unshift(...failed.slice(0, Math.max(0, room)));
        if (failed.length > room) this.#dropped.inc(failed.length - Math.max(0, room));
      }
    })().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async query(q: AuditQuery): Promise<Page> {
    const limit = q.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_QUERY_LIMIT) throw new UltraError('InvalidArgument', `limit must be 1..${MAX_QUERY_LIMIT}`);
    for (const [name, v] of [['sinceMs', q.sinceMs], ['untilMs', q.untilMs]] as const) {
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw new UltraError('InvalidArgument', `${name} must be a time in ms since the epoch`);
    }
    if (q.outcome !== undefined && !['allowed', 'denied', 'failed'].includes(q.outcome)) throw new UltraError('InvalidArgument', 'outcome must be allowed, denied or failed');
    let after = q.after ?? (q.sinceMs === undefined || q.sinceMs === 0 ? undefined : `${pad(q.sinceMs - 1)}~`);
    const items: Array<AuditRec & { id: string }> = [];
    for (let page = 0; page < MAX_QUERY_PAGES; page++) {
      const result = await this.#store.audit.list({ limit: PAGE, ...(after === undefined ? {} : { after }) });
      for (const item of result.items) {
        after = item.id;
        const r = item.record;
        if (q.untilMs !== undefined && r.atMs > q.untilMs) return { items };
        if (q.principal !== undefined && r.principal !== q.principal) continue;
        if (q.outcome !== undefined && r.outcome !== q.outcome) continue;
        if (q.action !== undefined && r.action !== q.action) continue;
        items.push({ id: item.id, ...r });
        if (items.length === limit) return { items, next: item.id };
      }
      if (result.next === undefined) return { items };
    }
    // Scanned the bound without filling the page: say where to continue.
    return after === undefined ? { items } : { items, next: after };
  }

  /** Deletes entries older than `beforeMs` (at most `max` per call); returns how many. */
  async prune(beforeMs: number, max = 1_000): Promise<number> {
    const page = await this.#store.audit.list({ limit: Math.min(max, MAX_QUERY_LIMIT) });
    let n = 0;
    for (const item of page.items) {
      if (item.record.atMs >= beforeMs) break;
      await this.#store.audit.delete(item.id).catch(() => undefined);
      n++;
    }
    return n;
  }

  #id(atMs: number): string {
    this.#seq = (this.#seq + 1) % 1_000_000;
    const salt = Buffer.from(this.#env.randomBytes(3)).toString('hex');
    return `${pad(atMs)}-${this.#nodeTag}-${String(this.#seq).padStart(6, '0')}${salt}`;
  }
}

function pad(ms: number): string {
  return String(Math.max(0, ms)).padStart(15, '0');
}

function clip(text: string, max: number): string {
  const s = typeof text === 'string' ? text : String(text);
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
