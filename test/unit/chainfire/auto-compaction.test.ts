// etcd's auto compaction settings and schedule (core/auto-compaction.ts): what the flags accept,
// and when the leader compacts to which revision, in both modes.
import { describe, expect, it } from 'vitest';
import { AutoCompactionSchedule, parseAutoCompaction, REVISION_MODE_CHECK_MS, type AutoCompaction } from '../../../actors/chainfire/core/auto-compaction.ts';
import { parseChainfireSettings } from '../../../actors/chainfire/config.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('parseAutoCompaction', () => {
  it('takes etcd\'s retention forms: durations or hours in periodic mode, revisions in revision mode; 0 is off', () => {
    expect(parseAutoCompaction('periodic', '1h')).toEqual({ mode: 'periodic', retentionMs: HOUR });
    expect(parseAutoCompaction('periodic', '30m')).toEqual({ mode: 'periodic', retentionMs: 30 * MIN });
    expect(parseAutoCompaction('periodic', '1h30m')).toEqual({ mode: 'periodic', retentionMs: 90 * MIN });
    expect(parseAutoCompaction('periodic', '90s')).toEqual({ mode: 'periodic', retentionMs: 90_000 });
    expect(parseAutoCompaction('periodic', '72')).toEqual({ mode: 'periodic', retentionMs: 72 * HOUR });
    expect(parseAutoCompaction('periodic', 2)).toEqual({ mode: 'periodic', retentionMs: 2 * HOUR });
    expect(parseAutoCompaction(undefined, '5m')).toEqual({ mode: 'periodic', retentionMs: 5 * MIN });
    expect(parseAutoCompaction('revision', '1000')).toEqual({ mode: 'revision', retention: 1000n });
    expect(parseAutoCompaction('periodic', '0')).toBeUndefined();
    expect(parseAutoCompaction('revision', '0')).toBeUndefined();
    expect(parseAutoCompaction()).toBeUndefined();
  });

  it('refuses what etcd would not take, naming the setting', () => {
    for (const [mode, retention] of [['periodic', 'an hour'], ['periodic', '-1h'], ['periodic', '1d'], ['periodic', '5s'], ['revision', '1h'], ['revision', '-5'], ['hourly', '1h'], ['periodic', {}]] as const) {
      expect(() => parseAutoCompaction(mode, retention), `${String(mode)} ${String(retention)}`).toThrow(/settings\.chainfire\.autoCompaction/);
    }
  });

  it('comes from settings.chainfire, whose unknown fields are refused', () => {
    expect(parseChainfireSettings(undefined)).toEqual({ autoCompaction: undefined });
    expect(parseChainfireSettings({ autoCompactionMode: 'revision', autoCompactionRetention: '500' })).toEqual({ autoCompaction: { mode: 'revision', retention: 500n } });
    expect(() => parseChainfireSettings({ autoCompactionRetention: '1h', retention: '1h' })).toThrow(/settings\.chainfire in the node config is invalid/);
  });
});

/** Runs a schedule for `untilMs`, the revision growing by `perTick` each tick; returns [time, revision] of each compaction. */
function run(config: AutoCompaction, untilMs: number, options: { perTick?: bigint; leader?: (nowMs: number) => boolean; fail?: (nowMs: number) => boolean } = {}) {
  const schedule = new AutoCompactionSchedule(config, 0);
  const compactions: Array<[number, bigint]> = [];
  let revision = 1n;
  for (let now = schedule.tickMs; now <= untilMs; now += schedule.tickMs) {
    revision += options.perTick ?? 10n;
    const target = schedule.tick(now, revision, options.leader?.(now) ?? true);
    if (target === undefined) continue;
    const ok = !(options.fail?.(now) ?? false);
    if (ok) compactions.push([now, target]);
    schedule.done(now, target, ok);
  }
  return { schedule, compactions };
}

describe('AutoCompactionSchedule, periodic', () => {
  it('retention 1h: samples every 6 minutes; compacts after an hour, then hourly, each time to the revision of an hour before', () => {
    const { schedule, compactions } = run({ mode: 'periodic', retentionMs: HOUR }, 3 * HOUR);
    expect(schedule.tickMs).toBe(6 * MIN);
    // The revision at tick k (6k minutes) is 1 + 10k. The first compaction goes to the oldest sample
    // (6 minutes in); later ones to the revision of exactly an hour before.
    expect(compactions).toEqual([
      [HOUR, 11n],
      [2 * HOUR, 101n],
      [3 * HOUR, 201n],
    ]);
  });

  it('retention 30m: compacts every 30 minutes, keeping half an hour', () => {
    const { schedule, compactions } = run({ mode: 'periodic', retentionMs: 30 * MIN }, 90 * MIN);
    expect(schedule.tickMs).toBe(3 * MIN);
    expect(compactions.map(([at]) => at / MIN)).toEqual([30, 60, 90]);
    // Revisions kept (10 per 3-minute tick): 27 minutes' worth the first time (the oldest sample is
    // one tick in), then 30 minutes'.
    expect(compactions.map(([at, target]) => 1n + BigInt(at / (3 * MIN)) * 10n - target)).toEqual([90n, 100n, 100n]);
  });

  it('retention 72h: compacts hourly, keeping 72 hours', () => {
    const { schedule, compactions } = run({ mode: 'periodic', retentionMs: 72 * HOUR }, 75 * HOUR);
    expect(schedule.tickMs).toBe(6 * MIN);
    expect(compactions.map(([at]) => at / HOUR)).toEqual([72, 73, 74, 75]);
    const kept = compactions.map(([at, target]) => 1n + BigInt(at / (6 * MIN)) * 10n - target);
    expect(kept).toEqual([7190n, 7200n, 7200n, 7200n]);
  });

  it('only a leader compacts; one that takes over when a compaction is due compacts at once', () => {
    const follower = run({ mode: 'periodic', retentionMs: HOUR }, 3 * HOUR, { leader: () => false });
    expect(follower.compactions).toEqual([]);
    const late = run({ mode: 'periodic', retentionMs: HOUR }, 3 * HOUR, { leader: (now) => now >= 90 * MIN });
    expect(late.compactions.map(([at]) => at / MIN)).toEqual([90, 150]);
    // It had sampled all along: the first target is the revision of an hour before, not of its election.
    expect(late.compactions[0]![1]).toBe(1n + 5n * 10n);
  });

  it('a failed compaction is retried at the next tick', () => {
    const { compactions } = run({ mode: 'periodic', retentionMs: HOUR }, 130 * MIN, { fail: (now) => now === HOUR });
    expect(compactions.map(([at]) => at / MIN)).toEqual([66, 126]);
  });
});

describe('AutoCompactionSchedule, revision', () => {
  it('every 5 minutes, compacts to the current revision minus the retention, once it moved', () => {
    const { schedule, compactions } = run({ mode: 'revision', retention: 25n }, 30 * MIN, { perTick: 10n });
    expect(schedule.tickMs).toBe(REVISION_MODE_CHECK_MS);
    // Revision 1 + 10k at tick k: 11 − 25 < 1 at the first, then 21 − 25, then 31 − 25 = 6, …
    expect(compactions).toEqual([
      [15 * MIN, 6n],
      [20 * MIN, 16n],
      [25 * MIN, 26n],
      [30 * MIN, 36n],
    ]);
  });

  it('skips when no write moved the revision', () => {
    const { compactions } = run({ mode: 'revision', retention: 5n }, 30 * MIN, { perTick: 0n });
    expect(compactions).toEqual([]);
  });
});
