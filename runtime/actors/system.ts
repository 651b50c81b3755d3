// The actor system of one node: guardians, the path registry, message routing (local cells, or a
// RemoteRouter for refs on other nodes and worker threads), asks, death-watch, dead letters and
// orderly shutdown.
import type { Env } from '../env/env.ts';
import { UltraError, type ErrorCode, type ErrorData } from '../errors.ts';
import { silentLogger, type Logger } from '../log/logger.ts';
import { RateLimitedLog } from '../log/rate-limited-log.ts';
import { MetricsRegistry } from '../metrics/metrics-registry.ts';
import { AskTable } from './ask-table.ts';
import type { AskOptions, Behavior, SpawnOptions } from './behavior.ts';
import { CELL, Cell, type ActorInfo } from './cell.ts';
import { Dispatcher, type DispatcherOptions } from './dispatcher.ts';
import type { ActorRef, AnyRef, Message, ReplyFor, Terminated } from './ref.ts';
import { refToString } from './ref.ts';
import { oneForOne } from './supervision.ts';

/** A ref uid that addresses the current incarnation at a path, whatever its uid. */
export const ANY_INCARNATION = 0;

/** Where an ask's reply goes: plain data, so it can cross threads and nodes. */
export interface ReplyAddress {
  readonly node: string;
  readonly askId: number;
}

export type AskReply = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: ErrorData };

/** Carries messages for refs that live elsewhere (another node, a worker thread). Set by transports. */
export interface RemoteRouter {
  /** Whether this router reaches `node`. */
  reaches(node: string): boolean;
  deliver(target: AnyRef, message: unknown, replyTo: ReplyAddress | undefined): void;
  sendReply(address: ReplyAddress, reply: AskReply): void;
  watch(target: AnyRef, watcher: AnyRef): void;
  unwatch(target: AnyRef, watcher: AnyRef): void;
  sendTerminated(watcher: AnyRef, terminated: Terminated): void;
}

export interface DeadLetter {
  readonly target: AnyRef;
  readonly message: unknown;
  readonly reason: string;
}

export interface ActorSystemOptions {
  readonly nodeId?: string;
  readonly env: Env;
  readonly log?: Logger;
  /** Where the system's own metrics go (a node shares one registry among its components). */
  readonly metrics?: MetricsRegistry;
  readonly dispatcher?: DispatcherOptions;
  /** Dead letters logged per `deadLetterLogWindowMs`; the rest are counted and summarised. */
  readonly deadLetterLogLimit?: number;
  readonly deadLetterLogWindowMs?: number;
}

export interface ShutdownResult {
  /** False when the deadline passed before every actor had stopped. */
  readonly completed: boolean;
  readonly stillRunning: string[];
}

const guardianBehavior: Behavior<null, Message> = {
  init: () => null,
  receive: (state) => state,
  supervisor: oneForOne({ maxRestarts: 10, withinMs: 60_000 }),
};

export class ActorSystem {
  readonly nodeId: string;
  readonly env: Env;
  readonly log: Logger;
  readonly dispatcher: Dispatcher;
  readonly metrics: MetricsRegistry;
  readonly #cells = new Map<string, Cell<any, any>>();
  readonly #asks: AskTable;
  readonly #user: Cell<null, Message>;
  readonly #systemGuardian: Cell<null, Message>;
  readonly #deadLetterListeners = new Set<(d: DeadLetter) => void>();
  readonly #deadLetterLog: RateLimitedLog;
  readonly #deadLetters: ReturnType<MetricsRegistry['counter']>;
  #deadLetterCount = 0;
  #uidSeq = 0;
  #remote: RemoteRouter | undefined;
  #shuttingDown: Promise<ShutdownResult> | undefined;

  constructor(options: ActorSystemOptions) {
    this.nodeId = options.nodeId ?? 'local';
    this.env = options.env;
    this.log = options.log ?? silentLogger();
    this.metrics = options.metrics ?? new MetricsRegistry();
    this.dispatcher = new Dispatcher(this.env, options.dispatcher);
    this.#asks = new AskTable(this.env);
    this.#deadLetterLog = new RateLimitedLog({
      logger: this.log,
      now: () => this.env.monotonicNow(),
      maxPerWindow: options.deadLetterLogLimit ?? 10,
      windowMs: options.deadLetterLogWindowMs ?? 10_000,
      level: 'info',
    });
    this.#deadLetters = this.metrics.counter({ name: 'ultracloud_actor_dead_letters_total', help: 'Messages that no actor handled (stopped or missing target, full mailbox, no route).' });
    this.#registerMetrics();
    this.#user = new Cell(this, undefined, 'user', guardianBehavior, {});
    this.#systemGuardian = new Cell(this, undefined, 'system', guardianBehavior, {});
    for (const g of [this.#user, this.#systemGuardian]) {
      this.register(g);
      g.start();
    }
  }

  // ── Spawning and lookup ──────────────────────────────────────────────────

  /** Spawns a top-level actor under /user. */
  spawn<S, M extends Message>(behavior: Behavior<S, M>, options: SpawnOptions = {}): ActorRef<M> {
    this.#refuseIfShuttingDown();
    return this.#user.spawnChild(behavior, options);
  }

  /** Spawns a runtime actor under /system (transports, registries). */
  spawnSystem<S, M extends Message>(behavior: Behavior<S, M>, options: SpawnOptions = {}): ActorRef<M> {
    this.#refuseIfShuttingDown();
    return this.#systemGuardian.spawnChild(behavior, options);
  }

  /** The live local actor at `path`, if any. */
  lookup<M extends Message = Message>(path: string): ActorRef<M> | undefined {
    const cell = this.#cells.get(path);
    return cell === undefined || cell.status === 'stopped' ? undefined : (cell.ref as ActorRef<M>);
  }

  /** Stops an actor and its subtree; resolves once it has terminated. */
  stop(ref: AnyRef): Promise<void> {
    const cell = this.#localCell(ref);
    return cell === undefined ? Promise.resolve() : cell.stop('stopped');
  }

  actorTree(depth = Infinity): ActorInfo[] {
    return [this.#user.info(depth), this.#systemGuardian.info(depth)];
  }

  // ── Messaging ────────────────────────────────────────────────────────────

  tell<M extends Message>(ref: ActorRef<M>, message: M): void {
    this.#deliver(ref as AnyRef, message, undefined);
  }

  ask<M extends Message, const Q extends M>(ref: ActorRef<M>, message: Q, options: AskOptions): Promise<ReplyFor<M, Q>> {
    const [askId, promise] = this.#asks.open(options.timeoutMs, `${message.type} → ${refToString(ref as AnyRef)}`, ref.node);
    this.#deliver(ref as AnyRef, message, { node: this.nodeId, askId });
    return promise as Promise<ReplyFor<M, Q>>;
  }

  /** Entry point for messages that arrive from a transport for a local actor. */
  deliverLocal(target: AnyRef, message: unknown, replyTo: ReplyAddress | undefined): void {
    const cell = this.#localCell(target);
    if (cell === undefined) {
      this.deadLetter(target, message, 'no such actor', replyTo, 'NotFound');
      return;
    }
    cell.enqueue(message as Message, replyTo);
  }

  #deliver(target: AnyRef, message: unknown, replyTo: ReplyAddress | undefined): void {
    const fast = (target as { [CELL]?: Cell<any, any> })[CELL];
    if (fast !== undefined && fast.system === this) {
      fast.enqueue(message as Message, replyTo);
      return;
    }
    if (target.node === this.nodeId) {
      this.deliverLocal(target, message, replyTo);
      return;
    }
    const remote = this.#remote;
    if (remote !== undefined && remote.reaches(target.node)) {
      remote.deliver(target, message, replyTo);
      return;
    }
    this.deadLetter(target, message, `no route to node '${target.node}'`, replyTo, 'Unavailable');
  }

  /** Routes an ask's reply to the asker, locally or through the remote router. */
  sendReply(address: ReplyAddress, reply: AskReply): void {
    if (address.node === this.nodeId) {
      this.deliverReply(address.askId, reply);
      return;
    }
    if (this.#remote?.reaches(address.node)) this.#remote.sendReply(address, reply);
    else this.#countDeadLetter({ target: { node: address.node, path: '/temp', uid: address.askId }, message: reply, reason: 'no route for reply' });
  }

  /** Settles a local ask with its reply (from a local actor or a transport). */
  deliverReply(askId: number, reply: AskReply): void {
    if (reply.ok) this.#asks.resolve(askId, reply.value);
    else this.#asks.reject(askId, UltraError.fromData(reply.error));
  }

  // ── Death-watch ──────────────────────────────────────────────────────────

  /** Registers `watcher` on `target`; a target that does not exist terminates at once. */
  watch(target: AnyRef, watcher: AnyRef): void {
    if (target.node !== this.nodeId) {
      if (this.#remote?.reaches(target.node)) this.#remote.watch(target, watcher);
      else this.sendTerminated(watcher, { type: 'terminated', ref: target, reason: 'node-down' });
      return;
    }
    const cell = this.#localCell(target);
    if (cell === undefined || cell.status === 'stopped') {
      this.sendTerminated(watcher, { type: 'terminated', ref: target, reason: 'not-found' });
      return;
    }
    cell.addWatcher(watcher);
  }

  unwatch(target: AnyRef, watcher: AnyRef): void {
    if (target.node !== this.nodeId) {
      if (this.#remote?.reaches(target.node)) this.#remote.unwatch(target, watcher);
      return;
    }
    this.#localCell(target)?.removeWatcher(watcher);
  }

  /** Delivers a Terminated to a watcher, locally or through the remote router. */
  sendTerminated(watcher: AnyRef, terminated: Terminated): void {
    if (watcher.node === this.nodeId) {
      this.#localCell(watcher)?.deliverTerminated(terminated);
      return;
    }
    this.#remote?.sendTerminated(watcher, terminated);
  }

  // ── Remote ───────────────────────────────────────────────────────────────

  /** A node (or worker thread) is gone: its pending asks fail now instead of timing out. */
  nodeDown(node: string): void {
    this.#asks.rejectForNode(node, new UltraError('Unavailable', `node ${node} is down`));
  }

  /** Installs the router for refs on other nodes or threads (one per system). */
  setRemoteRouter(router: RemoteRouter | undefined): void {
    this.#remote = router;
  }

  // ── Dead letters ─────────────────────────────────────────────────────────

  /** A message nobody will handle: counted, logged (rate-limited), and an ask is answered with an error. */
  deadLetter(target: AnyRef, message: unknown, reason: string, replyTo: ReplyAddress | undefined, code: ErrorCode = 'Unavailable'): void {
    if (replyTo !== undefined) {
      // `undelivered`: no actor handled the message, so a caller may safely send it again.
      this.sendReply(replyTo, { ok: false, error: { code, message: `${reason}: ${refToString(target)}`, details: { undelivered: true } } });
    }
    this.#countDeadLetter({ target, message, reason });
  }

  #countDeadLetter(letter: DeadLetter): void {
    this.#deadLetterCount++;
    this.#deadLetters.inc();
    for (const listener of this.#deadLetterListeners) listener(letter);
    const type = (letter.message as { type?: unknown } | undefined)?.type;
    this.#deadLetterLog.log({ target: refToString(letter.target), messageType: typeof type === 'string' ? type : undefined, reason: letter.reason }, 'dead letter');
  }

  #registerMetrics(): void {
    this.metrics.gauge({ name: 'ultracloud_actors', help: 'Live actors on this node, guardians included.', collect: (g) => g.set(this.#cells.size) });
    this.metrics.gauge({ name: 'ultracloud_actor_pending_asks', help: 'Asks waiting for a reply.', collect: (g) => g.set(this.#asks.size) });
  }

  get deadLetterCount(): number {
    return this.#deadLetterCount;
  }

  onDeadLetter(listener: (letter: DeadLetter) => void): () => void {
    this.#deadLetterListeners.add(listener);
    return () => this.#deadLetterListeners.delete(listener);
  }

  // ── Shutdown ─────────────────────────────────────────────────────────────

  /** Stops /user then /system, children first; gives up waiting after `deadlineMs`. */
  shutdown(options: { deadlineMs?: number } = {}): Promise<ShutdownResult> {
    const deadlineMs = options.deadlineMs ?? 10_000;
    this.#shuttingDown ??= new Promise<ShutdownResult>((resolve) => {
      let done = false;
      const timer = this.env.setTimer(deadlineMs, () => {
        if (done) return;
        done = true;
        const stillRunning = [...this.#cells.values()].filter((c) => c.status !== 'stopped').map((c) => c.path);
        this.log.warn({ deadlineMs, stillRunning }, 'shutdown deadline passed with actors still running');
        this.#asks.rejectAll(new UltraError('Unavailable', 'actor system shut down'));
        resolve({ completed: false, stillRunning });
      });
      void this.#user
        .stop()
        .then(() => this.#systemGuardian.stop())
        .then(() => {
          if (done) return;
          done = true;
          timer.cancel();
          this.#asks.rejectAll(new UltraError('Unavailable', 'actor system shut down'));
          resolve({ completed: true, stillRunning: [] });
        });
    });
    return this.#shuttingDown;
  }

  get isShuttingDown(): boolean {
    return this.#shuttingDown !== undefined;
  }

  // ── Internal (used by Cell) ──────────────────────────────────────────────

  nextUid(): number {
    // Unique per node across restarts of the process: random high bits, sequential low bits.
    if (this.#uidSeq === 0) this.#uidSeq = this.env.randomInt(0x1fffff) * 0x100000;
    return ++this.#uidSeq;
  }

  register(cell: Cell<any, any>): void {
    this.#cells.set(cell.path, cell);
  }

  unregister(cell: Cell<any, any>): void {
    if (this.#cells.get(cell.path) === cell) this.#cells.delete(cell.path);
  }

  isGuardian(cell: Cell<any, any>): boolean {
    return cell === this.#user || cell === this.#systemGuardian;
  }

  #localCell(ref: AnyRef): Cell<any, any> | undefined {
    if (ref.node !== this.nodeId) return undefined;
    const cell = this.#cells.get(ref.path);
    // uid 0 addresses whichever incarnation lives at the path (the CLI sends by path).
    return cell !== undefined && (cell.uid === ref.uid || ref.uid === ANY_INCARNATION) ? cell : undefined;
  }

  #refuseIfShuttingDown(): void {
    if (this.#shuttingDown !== undefined) throw new UltraError('Unavailable', 'actor system is shutting down');
  }
}
