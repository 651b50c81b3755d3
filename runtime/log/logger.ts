// The one way UltraCloud code gets a logger: structured JSON lines from pino, stamped with the
// node name, with per-actor children carrying the actor's path.
import { pino } from 'pino';
import type { DestinationStream, Level, LevelWithSilent, Logger } from 'pino';
import { UltraError } from '../errors.ts';

export type { Level, Logger };

export const LOG_LEVEL_ENV_VAR = 'ULTRACLOUD_LOG_LEVEL';

export interface LoggerOptions {
  /** Default: $ULTRACLOUD_LOG_LEVEL, else 'info'. */
  readonly level?: LevelWithSilent;
  /** Node name put on every line. */
  readonly node?: string;
  /** Where lines go; default stdout. Tests pass a stream to read lines back. */
  readonly destination?: DestinationStream;
  /**
   * Wall-clock source for the `time` field (ms since epoch), normally `env.now`: under the
   * simulator, log times then follow virtual time and replay identically. Default: the host clock.
   */
  readonly now?: () => number;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  // The environment is read here only, so the rest of the runtime stays a function of its inputs.
  const level = options.level ?? process.env[LOG_LEVEL_ENV_VAR] ?? 'info';
  if (level !== 'silent' && !Object.hasOwn(pino.levels.values, level)) {
    throw new UltraError('InvalidArgument', `unknown log level ${JSON.stringify(level)} (check ${LOG_LEVEL_ENV_VAR})`);
  }
  const now = options.now;
  return pino(
    {
      level,
      base: options.node === undefined ? {} : { node: options.node },
      timestamp: now === undefined ? pino.stdTimeFunctions.isoTime : () => `,"time":"${new Date(now()).toISOString()}"`,
    },
    // Synchronous writes to fd 1: slower than pino's async mode, but a crash or process.exit
    // cannot lose the last lines, which are the ones that explain it.
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** The per-actor logger convention: every line names the actor it came from. */
export function childLogger(logger: Logger, bindings: { readonly actor: string }): Logger {
  return logger.child({ actor: bindings.actor });
}

/** A logger that writes nothing, for tests and tools that do not care. */
export function silentLogger(): Logger {
  // No timestamp: pino probes its clock once at construction, which would read the real clock
  // inside a simulation.
  return pino({ level: 'silent', timestamp: false });
}
