// etcd's --auto-compaction-mode and --auto-compaction-retention: the leader compacts the store's
// history on its own, so a cluster whose clients never call Compact does not grow until the space
// quota refuses writes. A pure schedule, ticked by chainfire's compactor actor; as etcd's (v3.4):
// - periodic, retention R: the revision is sampled every min(R, 1h) / 10; the first compaction
//   comes R after start and later ones every min(R, 1h), each to the revision sampled R ago, so
//   about R of history is kept;
// - revision, retention N: every 5 minutes, to the current revision − N (when that moved).
// Only the leader compacts; followers keep sampling, so a new leader can compact at once when due.
import { UltraError } from '../../../runtime/errors.ts';

export type AutoCompaction = { readonly mode: 'periodic'; readonly retentionMs: number } | { readonly mode: 'revision'; readonly retention: bigint };

const HOUR_MS = 3_600_000;
/** etcd's revision compactor checks every 5 minutes. */
export const REVISION_MODE_CHECK_MS = 5 * 60_000;
/** etcd samples ten times per compaction interval. */
const SAMPLES_PER_INTERVAL = 10;

const DURATION_UNITS_MS: Record<string, number> = { h: HOUR_MS, m: 60_000, s: 1_000, ms: 1 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:h|ms|m|s))+$/;

/**
 * The settings as etcd's flags take them: mode `periodic` (the default) or `revision`; retention
 * `0` (off, the default), for periodic a duration (`1h`, `30m`, `1h30m`, `90s`) or a bare number
 * of hours, for revision a number of revisions. undefined: auto compaction off.
 */
export function parseAutoCompaction(mode: unknown = 'periodic', retention: unknown = '0'): AutoCompaction | undefined {
  const where = 'settings.chainfire.autoCompactionRetention';
  if (typeof retention !== 'string' && typeof retention !== 'number') throw new UltraError('InvalidArgument', `${where} must be a string such as "1h" or "1000"`);
  const text = String(retention).trim();
  if (mode === 'revision') {
    if (!/^\d+$/.test(text)) throw new UltraError('InvalidArgument', `${where} "${text}": in revision mode, a number of revisions to keep (e.g. "1000")`);
    const revisions = BigInt(text);
    return revisions === 0n ? undefined : { mode: 'revision', retention: revisions };
  }
  if (mode !== 'periodic') throw new UltraError('InvalidArgument', `settings.chainfire.autoCompactionMode "${String(mode)}": use "periodic" or "revision"`);
  let ms: number;
  if (/^\d+$/.test(text)) {
    ms = Number(text) * HOUR_MS;
  } else if (DURATION.test(text)) {
    ms = 0;
    for (const [, value, unit] of text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)) ms += Number(value) * DURATION_UNITS_MS[unit!]!;
  } else {
    throw new UltraError('InvalidArgument', `${where} "${text}": in periodic mode, a duration (e.g. "1h", "30m", "1h30m") or a number of hours`);
  }
  if (ms === 0) return undefined;
  if (ms < SAMPLES_PER_INTERVAL * 1_000) throw new UltraError('InvalidArgument', `${where} "${text}": at least 10s (the revision is sampled every tenth of it)`);
  return { mode: 'periodic', retentionMs: ms };
}

export class AutoCompactionSchedule {
  /** How often to tick. */
  readonly tickMs: number;
  readonly #config: AutoCompaction;
  readonly #intervalMs: number;
  readonly #keep: number;
  #samples: bigint[] = [];
  #lastSuccessMs: number;
  /** Until the first compaction the wait is the whole retention; after it, the interval. */
  #waitMs: number;
  #lastRevision = 0n;

  constructor(config: AutoCompaction, startMs: number) {
    this.#config = config;
    if (config.mode === 'periodic') {
      this.#intervalMs = Math.min(config.retentionMs, HOUR_MS);
      this.tickMs = this.#intervalMs / SAMPLES_PER_INTERVAL;
      this.#keep = Math.floor(config.retentionMs / this.tickMs) + 1;
      this.#waitMs = config.retentionMs;
    } else {
      this.#intervalMs = REVISION_MODE_CHECK_MS;
      this.tickMs = REVISION_MODE_CHECK_MS;
      this.#keep = 0;
      this.#waitMs = REVISION_MODE_CHECK_MS;
    }
    this.#lastSuccessMs = startMs;
  }

  /**
   * One tick: `revision` is the store's current revision, `leader` whether this replica leads.
   * Returns the revision to compact to now, or undefined; report the outcome with `done`.
   */
  tick(nowMs: number, revision: bigint, leader: boolean): bigint | undefined {
    if (this.#config.mode === 'periodic') {
      this.#samples.push(revision);
      if (this.#samples.length > this.#keep) this.#samples.shift();
    }
    if (!leader || nowMs - this.#lastSuccessMs < this.#waitMs) return undefined;
    const target = this.#config.mode === 'periodic' ? this.#samples[0]! : revision - this.#config.retention;
    if (target <= 1n || target <= this.#lastRevision) return undefined;
    return target;
  }

  /**
   * The outcome of compacting to `revision`: done (or compacted already) waits a whole interval for
   * the next; a failure is retried at the next tick.
   */
  done(nowMs: number, revision: bigint, ok: boolean): void {
    if (!ok) return;
    this.#lastSuccessMs = nowMs;
    this.#waitMs = this.#intervalMs;
    this.#lastRevision = revision;
  }
}
