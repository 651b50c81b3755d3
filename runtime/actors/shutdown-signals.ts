// Process-level shutdown: on SIGTERM or SIGINT, stop the actor system (children first, onStop
// hooks awaited) within a deadline, then exit — 0 when everything stopped in time, 1 when the
// deadline passed. A second signal exits at once, for an operator who will not wait. And an error
// nothing handled still ends the process (Node's default), but says so in the structured log first.
import type { Logger } from '../log/logger.ts';
import type { ActorSystem } from './system.ts';

export interface ShutdownSignalOptions {
  readonly deadlineMs?: number;
  readonly log?: Logger;
  /** Runs after the actors stopped (close listeners, flush logs); bounded by the same deadline. */
  readonly beforeExit?: () => Promise<void>;
  /** Replaces the default (system shutdown, then beforeExit): resolves whether all stopped in time. */
  readonly stop?: (deadlineMs: number) => Promise<boolean>;
  readonly signals?: readonly NodeJS.Signals[];
}

/** Installs the handlers; returns a function that removes them. */
export function installShutdownSignals(system: ActorSystem, options: ShutdownSignalOptions = {}): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const log = options.log ?? system.log;
  let shuttingDown = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      log.warn({ signal }, 'second signal: exiting without waiting for actors');
      process.exit(130);
    }
    shuttingDown = true;
    log.info({ signal, deadlineMs: options.deadlineMs ?? 10_000 }, 'shutting down');
    const deadlineMs = options.deadlineMs ?? 10_000;
    const stop =
      options.stop ??
      (async (ms: number) => {
        const result = await system.shutdown({ deadlineMs: ms });
        await options.beforeExit?.();
        if (!result.completed) log.error({ stillRunning: result.stillRunning }, 'shutdown deadline passed');
        return result.completed;
      });
    void stop(deadlineMs).then((completed) => {
      if (completed) log.info('shutdown complete');
      process.exit(completed ? 0 : 1);
    });
  };
  for (const s of signals) process.on(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}

/**
 * On an unhandled promise rejection or an uncaught exception the process still exits 1, as Node
 * does by default (its state can no longer be trusted; a restart recovers from disk), but first
 * writes one fatal line with the error to the structured log (synchronous: the line is out before
 * the exit), so the operator's log shows why the node stopped and what to do. Returns a function
 * that removes the handlers.
 */
export function installCrashLog(log: Logger, restartHint: string): () => void {
  const onRejection = (reason: unknown): void => crash('an unhandled promise rejection', reason);
  const onException = (error: unknown): void => crash('an uncaught exception', error);
  const crash = (what: string, error: unknown): void => {
    const message = `the node stops on ${what} (a bug: please report it with this line); ${restartHint}`;
    log.fatal({ err: error }, message);
    // The log may be a file (`ultracloud up`): the terminal says it too.
    process.stderr.write(`ultracloud: ${message}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
