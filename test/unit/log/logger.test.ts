import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { childLogger, createLogger, LOG_LEVEL_ENV_VAR, silentLogger } from '../../../runtime/log/logger.ts';
import { UltraError } from '../../../runtime/errors.ts';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, destination: { write: (line: string) => void lines.push(JSON.parse(line)) } };
}

describe('createLogger', () => {
  beforeEach(() => {
    vi.stubEnv(LOG_LEVEL_ENV_VAR, undefined);
  });

  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('writes JSON lines with the node, an ISO time from the given clock, and no pid or hostname', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ node: 'n1', destination, now: () => Date.UTC(2030, 0, 2, 3, 4, 5, 6) });
    logger.info({ k: 1 }, 'hello');
    expect(lines).toEqual([{ level: 30, time: '2030-01-02T03:04:05.006Z', node: 'n1', k: 1, msg: 'hello' }]);
  });

  it('uses an ISO timestamp from the host clock by default', () => {
    const { lines, destination } = capture();
    createLogger({ destination }).warn('x');
    expect(lines[0]?.['time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('takes the level from the option, else the environment, else info', () => {
    const { lines, destination } = capture();
    vi.stubEnv(LOG_LEVEL_ENV_VAR, 'error');
    createLogger({ destination }).warn('dropped');
    createLogger({ destination, level: 'debug' }).debug('kept');
    vi.stubEnv(LOG_LEVEL_ENV_VAR, undefined);
    const byDefault = createLogger({ destination });
    byDefault.debug('dropped');
    byDefault.info('kept');
    expect(lines.map((l) => l['msg'])).toEqual(['kept', 'kept']);
  });

  it('rejects an unknown level from the environment', () => {
    vi.stubEnv(LOG_LEVEL_ENV_VAR, 'loud');
    expect(() => createLogger({ destination: capture().destination })).toThrow(UltraError);
    expect(() => createLogger({ destination: capture().destination, level: 'toString' as never })).toThrow(UltraError);
  });

  it('names the actor on child loggers', () => {
    const { lines, destination } = capture();
    childLogger(createLogger({ node: 'n1', destination }), { actor: '/user/a' }).info('hi');
    expect(lines[0]).toMatchObject({ node: 'n1', actor: '/user/a', msg: 'hi' });
  });

  it('has a silent logger', () => {
    const logger = silentLogger();
    expect(logger.level).toBe('silent');
    expect(logger.isLevelEnabled('fatal')).toBe(false);
  });
});
