import { describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../../runtime/log/logger.ts';
import { RateLimitedLog } from '../../../runtime/log/rate-limited-log.ts';

function setup(maxPerWindow: number, windowMs: number) {
  const lines: Array<Record<string, unknown>> = [];
  let clock = 1_000;
  const destination = { write: (line: string) => void lines.push(JSON.parse(line)) };
  const logger = createLogger({ level: 'info', destination, now: () => 0 });
  const log = new RateLimitedLog({ logger, now: () => clock, maxPerWindow, windowMs });
  return { lines, log, advance: (ms: number) => void (clock += ms) };
}

describe('RateLimitedLog', () => {
  it('logs the first entries of a window, then summarises the rest when the window rolls over', () => {
    const { lines, log, advance } = setup(2, 1_000);
    const written = [1, 2, 3, 4, 5].map((n) => log.log({ n }, 'dead letter'));
    expect(written).toEqual([true, true, false, false, false]);
    expect(lines.map((l) => l['n'])).toEqual([1, 2]);

    advance(999);
    expect(log.log({ n: 6 }, 'dead letter')).toBe(false);
    advance(1);
    expect(log.log({ n: 7 }, 'dead letter')).toBe(true);
    expect(lines.slice(2)).toMatchObject([
      { level: 40, suppressed: 4, windowMs: 1_000, msg: 'similar log entries suppressed' },
      { level: 40, n: 7, msg: 'dead letter' },
    ]);
  });

  it('writes no summary when nothing was suppressed', () => {
    const { lines, log, advance } = setup(3, 100);
    log.log({}, 'a');
    advance(500);
    log.log({}, 'b');
    log.flush();
    expect(lines.map((l) => l['msg'])).toEqual(['a', 'b']);
  });

  it('starts a window at the first entry after a quiet spell', () => {
    const { lines, log, advance } = setup(1, 100);
    log.log({ n: 1 }, 'x');
    advance(10_000);
    expect(log.log({ n: 2 }, 'x')).toBe(true);
    advance(50);
    expect(log.log({ n: 3 }, 'x')).toBe(false);
    advance(50);
    expect(log.log({ n: 4 }, 'x')).toBe(true);
    expect(lines.map((l) => l['n'] ?? `suppressed ${String(l['suppressed'])}`)).toEqual([1, 2, 'suppressed 1', 4]);
  });

  it('flushes a pending summary on demand', () => {
    const { lines, log } = setup(1, 100);
    log.log({}, 'x');
    log.log({}, 'x');
    log.log({}, 'x');
    log.flush();
    log.flush();
    expect(lines.map((l) => l['suppressed'])).toEqual([undefined, 2]);
  });

  it('validates its limits', () => {
    const logger = silentLogger();
    expect(() => new RateLimitedLog({ logger, now: () => 0, maxPerWindow: 0, windowMs: 1 })).toThrow(/maxPerWindow/);
    expect(() => new RateLimitedLog({ logger, now: () => 0, maxPerWindow: 1, windowMs: 0 })).toThrow(/windowMs/);
  });
});
