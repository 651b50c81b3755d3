// The program a worker thread runs: its own ActorSystem (node id `<parent>~<name>`) joined to the
// parent's through a PortTransport, plus a spawner actor that starts behaviors by module and
// export name (functions cannot cross threads; modules can).
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { ActorSystem, defineActor, type AnyRef, type Message, type Query, type SpawnOptions } from '../../runtime/actors/index.ts';
import type { Behavior } from '../../runtime/actors/index.ts';
import { realEnv } from '../../runtime/env/real-env.ts';
import { UltraError } from '../../runtime/errors.ts';
import { ClusterRouter } from '../cluster-router.ts';
import { PortTransport } from './port-transport.ts';

export interface WorkerBoot {
  readonly nodeId: string;
  readonly parentNode: string;
  readonly logLevel: string;
}

export type SpawnerMsg = { readonly type: 'spawn'; readonly module: string; readonly exportName: string; readonly options: SpawnOptions } & Query<AnyRef>;

export interface WorkerReady {
  readonly ready: true;
  readonly spawner: AnyRef;
}

const spawner = defineActor<null, SpawnerMsg>({
  init: () => null,
  async receive(state, msg, ctx) {
    const mod = (await import(msg.module)) as Record<string, unknown>;
    const behavior = mod[msg.exportName] as Behavior<unknown, Message> | undefined;
    if (behavior === undefined || typeof behavior.receive !== 'function' || typeof behavior.init !== 'function') {
      ctx.replyError(msg, new UltraError('InvalidArgument', `${msg.module} has no actor behavior exported as '${msg.exportName}'`));
      return state;
    }
    try {
      ctx.reply(msg, ctx.system.spawn(behavior, msg.options) as AnyRef);
    } catch (error) {
      ctx.replyError(msg, UltraError.from(error));
    }
    return state;
  },
});

if (parentPort !== null) {
  const boot = workerData as WorkerBoot;
  const log = pino({ level: boot.logLevel, base: { node: boot.nodeId } });
  const system = new ActorSystem({ nodeId: boot.nodeId, env: realEnv(), log });
  const router = new ClusterRouter(system);
  router.addTransport(new PortTransport(parentPort, boot.nodeId, boot.parentNode, { defaultRoute: true }));
  const ref = system.spawnSystem(spawner, { name: 'spawner' });
  parentPort.postMessage({ ready: true, spawner: { node: ref.node, path: ref.path, uid: ref.uid } } satisfies WorkerReady);
}
