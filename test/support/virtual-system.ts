// Test harness: an actor system on virtual time, plus helpers to run it to quiescence.
import { ActorSystem, type ActorSystemOptions } from '../../runtime/actors/index.ts';
import { VirtualEnv, VirtualScheduler } from '../../runtime/env/virtual-env.ts';

export interface VirtualHarness {
  readonly scheduler: VirtualScheduler;
  readonly env: VirtualEnv;
  readonly system: ActorSystem;
  /** Runs every pending event (messages, timers) until nothing is left. */
  idle(): Promise<void>;
  /** Advances virtual time by `ms`. */
  advance(ms: number): Promise<void>;
}

export function virtualSystem(seed = 1, options: Partial<ActorSystemOptions> = {}): VirtualHarness {
  const scheduler = new VirtualScheduler(seed);
  const env = new VirtualEnv(scheduler, { name: options.nodeId ?? 'local' });
  const system = new ActorSystem({ ...options, env });
  return {
    scheduler,
    env,
    system,
    idle: async () => {
      await scheduler.runUntilIdle();
    },
    advance: (ms) => scheduler.advance(ms),
  };
}
