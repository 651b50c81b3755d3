// Places actor subtrees on a worker thread. The thread runs its own ActorSystem as a sub-node
// (`<node>~<name>`); refs to its actors are ordinary ActorRefs, and tell, ask and death-watch
// work across the boundary exactly as they do locally or between nodes. An actor placed on a
// worker is supervised by the worker's /user guardian; whoever placed it watches it (a thread
// that exits fires Terminated with reason 'node-down').
import { Worker } from 'node:worker_threads';
import type { ActorRef, ActorSystem, AnyRef, Message, SpawnOptions } from '../../runtime/actors/index.ts';
import { UltraError } from '../../runtime/errors.ts';
import type { ClusterRouter } from '../cluster-router.ts';
import { PortTransport } from './port-transport.ts';
import type { SpawnerMsg, WorkerBoot, WorkerReady } from './worker-entry.ts';

export interface WorkerNodeOptions {
  /** One path-segment name; the worker's node id is `<parent node>~<name>`. */
  readonly name: string;
  readonly logLevel?: string;
  /** How long to wait for the thread to come up. */
  readonly startTimeoutMs?: number;
}

export class WorkerNode {
  readonly nodeId: string;
  readonly #system: ActorSystem;
  readonly #worker: Worker;
  readonly #transport: PortTransport;
  readonly #spawner: ActorRef<SpawnerMsg>;
  readonly #exited: Promise<number>;

  private constructor(system: ActorSystem, nodeId: string, worker: Worker, transport: PortTransport, spawner: ActorRef<SpawnerMsg>, exited: Promise<number>) {
    this.#system = system;
    this.nodeId = nodeId;
    this.#worker = worker;
    this.#transport = transport;
    this.#spawner = spawner;
    this.#exited = exited;
  }

  static async start(system: ActorSystem, router: ClusterRouter, options: WorkerNodeOptions): Promise<WorkerNode> {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(options.name)) throw new UltraError('InvalidArgument', `invalid worker name '${options.name}'`);
    const nodeId = `${system.nodeId}~${options.name}`;
    const boot: WorkerBoot = { nodeId, parentNode: system.nodeId, logLevel: options.logLevel ?? system.log.level };
    const worker = new Worker(new URL('./worker-entry.ts', import.meta.url), { workerData: boot });
    const transport = new PortTransport(worker, system.nodeId, nodeId);
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    void exited.then(() => transport.markDown());
    const ready = await new Promise<WorkerReady>((resolve, reject) => {
      const timer = system.env.setTimer(options.startTimeoutMs ?? 10_000, () => reject(new UltraError('DeadlineExceeded', `worker ${nodeId} did not start`)));
      worker.once('error', (error) => {
        timer.cancel();
        reject(UltraError.from(error));
      });
      worker.on('message', (value: unknown) => {
        if ((value as Partial<WorkerReady>)?.ready === true) {
          timer.cancel();
          resolve(value as WorkerReady);
        }
      });
    });
    router.addTransport(transport);
    return new WorkerNode(system, nodeId, worker, transport, ready.spawner as ActorRef<SpawnerMsg>, exited);
  }

  /** Spawns the behavior exported as `exportName` from `module` (a file URL) on the worker, under /user. */
  async spawn<M extends Message>(module: URL, exportName: string, options: SpawnOptions = {}, timeoutMs = 10_000): Promise<ActorRef<M>> {
    const ref = await this.#system.ask(this.#spawner, { type: 'spawn', module: module.href, exportName, options }, { timeoutMs });
    return ref as AnyRef as ActorRef<M>;
  }

  /** Ends the thread; watchers of its actors see Terminated (node-down). */
  async terminate(): Promise<void> {
    await this.#transport.close();
    await this.#worker.terminate();
    await this.#exited;
  }
}
