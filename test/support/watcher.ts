// Test helper: an actor that death-watches whatever ref it is told to, and records each Terminated.
import { defineActor, type ActorRef, type ActorSystem, type AnyRef, type Terminated } from '../../runtime/actors/index.ts';

export type WatcherMsg = { type: 'watch'; ref: AnyRef } | Terminated;

export function spawnWatcher(system: ActorSystem): { ref: ActorRef<WatcherMsg>; seen: Terminated[] } {
  const seen: Terminated[] = [];
  const ref = system.spawn(
    defineActor<null, WatcherMsg>({
      init: () => null,
      receive(state, msg, ctx) {
        if (msg.type === 'watch') ctx.watch(msg.ref);
        else seen.push(msg);
        return state;
      },
    }),
  );
  return { ref, seen };
}
