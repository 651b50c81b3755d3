// One live actor: its mailbox, state, children, timers, watchers and lifecycle. The cell is the
// runtime's side of an actor; user code only ever sees its ActorContext.
//
// Lifecycle: starting → running ⇄ suspended (failed, waiting for its supervisor) → stopping →
// stopped. Only one thing happens to a cell at a time: while an async init, handler, restart or
// stop phase is in flight (`busy`), messages queue and stop requests wait for it to settle.
import type { Logger } from '../log/logger.ts';
import type { Env, Timer } from '../env/env.ts';
import { UltraError, type ErrorData } from '../errors.ts';
import type { ActorContext, AskOptions, Behavior, DeferredReply, SpawnOptions, Timers } from './behavior.ts';
import { Mailbox } from './mailbox.ts';
import type { ActorRef, AnyRef, Message, ReplyFor, ReplyOf, Terminated, TerminationReason } from './ref.ts';
import { isValidActorName, refToString } from './ref.ts';
import {
  DEFAULT_SUPERVISOR,
  RestartIntensity,
  backoffMs,
  restartSet,
  shouldRestart,
  type RestartType,
  type SupervisorSpec,
} from './supervision.ts';
import type { ActorSystem, ReplyAddress } from './system.ts';

/** Hidden link from a locally created ref to its cell: the fast path for local tells. */
export const CELL = Symbol('ultracloud.cell');

export type CellStatus = 'starting' | 'running' | 'suspended' | 'stopping' | 'stopped';

/** Marks a message queued by a timer, so a cancelled timer's message can be discarded. */
class TimerMark {
  readonly key: string;
  readonly generation: number;
  constructor(key: string, generation: number) {
    this.key = key;
    this.generation = generation;
  }
}

type Sender = ReplyAddress | TimerMark | undefined;

/** Maximum stashed messages per actor; stashing more fails the actor (a bug, not load). */
export const MAX_STASH = 10_000;

export interface ActorInfo {
  readonly path: string;
  readonly name: string;
  readonly status: CellStatus;
  readonly mailboxSize: number;
  readonly restarts: number;
  readonly children: ActorInfo[];
}

export class Cell<S = unknown, M extends Message = Message> {
  readonly system: ActorSystem;
  readonly parent: Cell<any, any> | undefined;
  readonly name: string;
  readonly path: string;
  readonly uid: number;
  readonly ref: ActorRef<M>;
  readonly behavior: Behavior<S, M>;
  readonly restartType: RestartType;
  readonly supervisor: SupervisorSpec;
  readonly mailbox: Mailbox<M, Sender>;
  // Everything below that an idle actor may never need is allocated on first use: an idle actor
  // should cost well under a kilobyte of heap (docs/benchmarks.md).
  #log: Logger | undefined;
  #children: Map<string, Cell<any, any>> | undefined;
  /** Refs watching this actor, by refToString. */
  #watchers: Map<string, AnyRef> | undefined;
  /** What this actor watches, by target key, and how to turn its Terminated into a message. */
  #watching: Map<string, { readonly target: AnyRef; readonly map: ((t: Terminated) => M) | undefined }> | undefined;

  status: CellStatus = 'starting';
  queued = false;
  restarts = 0;
  #state: S | undefined;
  #hasState = false;
  #busy = false;
  /** What to do once the in-flight async phase settles (requested while busy). */
  #pending: { readonly kind: 'stop' } | { readonly kind: 'restart'; readonly delayMs: number } | undefined;
  #restarting = false;
  #stopReason: TerminationReason = 'stopped';
  #restartTimer: Timer | undefined;
  #current: M | undefined;
  #currentSender: Sender;
  /** Whether the message being handled was answered (so a failure does not answer it twice). */
  #currentAnswered = false;
  #stash: Array<[M, Sender]> | undefined;
  #nameSeq = 0;
  #intensity: RestartIntensity | undefined;
  #timers: TimerSet<M> | undefined;
  readonly #ctx: ActorContext<M>;
  #terminated: Promise<void> | undefined;
  #markTerminated: (() => void) | undefined;
  readonly #slot: [M | undefined, Sender] = [undefined, undefined];

  constructor(system: ActorSystem, parent: Cell<any, any> | undefined, name: string, behavior: Behavior<S, M>, options: SpawnOptions) {
    this.system = system;
    this.parent = parent;
    this.name = name;
    this.path = parent === undefined ? `/${name}` : `${parent.path}/${name}`;
    this.uid = system.nextUid();
    const ref = { node: system.nodeId, path: this.path, uid: this.uid };
    Object.defineProperty(ref, CELL, { value: this, enumerable: false });
    this.ref = Object.freeze(ref) as ActorRef<M>;
    this.behavior = behavior;
    this.restartType = options.restart ?? 'permanent';
    this.supervisor = behavior.supervisor ?? DEFAULT_SUPERVISOR;
    this.mailbox = new Mailbox<M, Sender>({ ...behavior.mailbox, ...options.mailbox });
    this.#ctx = new Context(this);
  }

  get log(): Logger {
    return (this.#log ??= this.system.log.child({ actor: this.path }));
  }

  get children(): ReadonlyMap<string, Cell<any, any>> {
    return this.#children ?? NO_CHILDREN;
  }

  removeChild(child: Cell<any, any>): void {
    if (this.#children?.get(child.name) === child) this.#children.delete(child.name);
  }

  addWatcher(watcher: AnyRef): void {
    (this.#watchers ??= new Map()).set(refToString(watcher), watcher);
  }

  removeWatcher(watcher: AnyRef): void {
    this.#watchers?.delete(refToString(watcher));
  }

  get env(): Env {
    return this.system.env;
  }

  get runnable(): boolean {
    return this.status === 'running' && !this.#busy && this.mailbox.size > 0;
  }

  /** Resolves once this actor has terminated. */
  get terminated(): Promise<void> {
    if (this.status === 'stopped') return Promise.resolve();
    return (this.#terminated ??= new Promise((resolve) => {
      this.#markTerminated = resolve;
    }));
  }

  get state(): S | undefined {
    return this.#state;
  }

  // ── Starting ─────────────────────────────────────────────────────────────

  start(): void {
    this.status = 'starting';
    this.#busy = true;
    let result: S | Promise<S>;
    try {
      result = this.behavior.init(this.#ctx);
    } catch (error) {
      this.#busy = false;
      this.#fail(error);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (state) => this.#initDone(state),
        (error: unknown) => {
          this.#busy = false;
          this.#fail(error);
        },
      );
    } else {
      this.#initDone(result);
    }
  }

  #initDone(state: S): void {
    this.#state = state;
    this.#hasState = true;
    if (this.#settle()) return;
    this.status = 'running';
    if (this.mailbox.size > 0) this.system.dispatcher.schedule(this);
  }

  /** Ends an async phase; carries out a stop or restart requested meanwhile. True if it did. */
  #settle(): boolean {
    this.#busy = false;
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending === undefined) return false;
    if (pending.kind === 'stop') this.#beginStop();
    else this.#restartNow(pending.delayMs);
    return true;
  }

  // ── Messages ─────────────────────────────────────────────────────────────

  /** Queues a message. `force` bypasses the capacity (death-watch notifications, unstash). */
  enqueue(message: M, sender: Sender, force = false): void {
    if (this.status === 'stopped') {
      this.system.deadLetter(this.ref, message, 'actor stopped', sender as ReplyAddress | undefined);
      return;
    }
    if (!force && this.mailbox.full) {
      if (this.mailbox.overflow === 'drop-newest') {
        this.system.deadLetter(this.ref, message, 'mailbox full', sender instanceof TimerMark ? undefined : sender, 'ResourceExhausted');
        return;
      }
      if (this.mailbox.shift(this.#slot)) {
        const [oldMessage, oldSender] = this.#slot;
        this.#slot[0] = undefined;
        this.#slot[1] = undefined;
        this.system.deadLetter(this.ref, oldMessage, 'mailbox full (dropped oldest)', oldSender instanceof TimerMark ? undefined : oldSender, 'ResourceExhausted');
      }
    }
    this.mailbox.push(message, sender);
    if (!this.queued && this.status === 'running' && !this.#busy) this.system.dispatcher.schedule(this);
  }

  runBatch(max: number): number {
    let handled = 0;
    const slot = this.#slot;
    while (handled < max && this.status === 'running' && !this.#busy && this.mailbox.shift(slot)) {
      const message = slot[0] as M;
      const sender = slot[1];
      slot[0] = undefined;
      slot[1] = undefined;
      handled++;
      if (sender instanceof TimerMark) {
        if (!this.timers.accept(sender)) continue;
        this.#currentSender = undefined;
      } else {
        this.#currentSender = sender;
      }
      this.#current = message;
      this.#currentAnswered = false;
      let next: S | Promise<S>;
      try {
        next = this.behavior.receive(this.#state as S, message, this.#ctx);
      } catch (error) {
        this.#fail(error);
        break;
      }
      if (next instanceof Promise) {
        this.#busy = true;
        next.then(this.#asyncDone, this.#asyncFailed);
        break;
      }
      this.#state = next;
      this.#current = undefined;
      this.#currentSender = undefined;
    }
    return handled;
  }

  readonly #asyncDone = (state: S): void => {
    this.#state = state;
    this.#current = undefined;
    this.#currentSender = undefined;
    if (this.#settle()) return;
    if (this.mailbox.size > 0 && this.status === 'running') this.system.dispatcher.schedule(this);
  };

  readonly #asyncFailed = (error: unknown): void => {
    this.#busy = false;
    this.#fail(error);
  };

  // ── Failure and supervision ──────────────────────────────────────────────

  /** This actor failed: suspend it, answer the ask it was handling, and ask the parent what now. */
  #fail(error: unknown): void {
    if (this.status === 'stopping' || this.status === 'stopped') return;
    const wasStarting = this.status === 'starting';
    this.status = 'suspended';
    const err = UltraError.from(error);
    this.log.error({ err: error, code: err.code, during: wasStarting ? 'init' : 'receive' }, 'actor failed');
    if (this.#currentSender !== undefined && !(this.#currentSender instanceof TimerMark) && !this.#currentAnswered) {
      this.system.sendReply(this.#currentSender, { ok: false, error: err.toData() });
    }
    this.#current = undefined;
    this.#currentSender = undefined;
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending?.kind === 'stop') {
      this.#stopReason = 'failed';
      this.#beginStop();
      return;
    }
    if (this.parent === undefined) {
      this.stop('failed');
      return;
    }
    this.parent.childFailed(this, error);
  }

  /** Called on the parent when a child failed; carries out the supervisor's directive. */
  childFailed(child: Cell<any, any>, error: unknown): void {
    if (this.status === 'stopping' || this.status === 'stopped') {
      child.stop('failed');
      return;
    }
    let directive;
    try {
      directive = this.supervisor.decide(error);
    } catch {
      directive = 'escalate' as const;
    }
    switch (directive) {
      case 'resume':
        child.resume();
        return;
      case 'stop':
        child.stop('failed');
        return;
      case 'escalate':
        this.#escalate(child, error);
        return;
      case 'restart':
        this.#restartChild(child, true, error);
        return;
    }
  }

  /** A permanent child stopped itself: it is restarted like OTP restarts a permanent worker. */
  childExited(child: Cell<any, any>): void {
    this.#restartChild(child, false, undefined);
  }

  #restartChild(child: Cell<any, any>, failed: boolean, error: unknown): void {
    if (!shouldRestart(child.restartType, failed)) {
      child.stop(failed ? 'failed' : 'stopped');
      return;
    }
    const now = this.env.monotonicNow();
    const intensity = (this.#intensity ??= new RestartIntensity(this.supervisor.maxRestarts, this.supervisor.withinMs));
    if (!intensity.record(now)) {
      const exceeded = new UltraError(
        'Internal',
        `restart intensity exceeded: more than ${this.supervisor.maxRestarts} restarts within ${this.supervisor.withinMs} ms under ${this.path}`,
        { child: child.path, cause: UltraError.from(error).message },
      );
      child.stop('failed');
      this.#escalate(child, exceeded);
      return;
    }
    const delayMs = backoffMs(this.supervisor, intensity.recent(now), this.env.random());
    const siblings = [...this.children.values()];
    for (const c of restartSet(this.supervisor.strategy, siblings, child)) c.restart(delayMs);
  }

  #escalate(child: Cell<any, any>, error: unknown): void {
    if (this.system.isGuardian(this)) {
      // Nothing above a guardian to escalate to: the failing subtree stops, the node stays up.
      this.log.error({ child: child.path, err: error }, 'top-level actor escalated a failure; stopping it');
      child.stop('failed');
      return;
    }
    this.#fail(error);
  }

  /** Resume directive: keep the state, drop the failed message, carry on. */
  resume(): void {
    if (this.status !== 'suspended') return;
    if (!this.#hasState) {
      // It failed in init: there is no state to resume with.
      this.restart(0);
      return;
    }
    this.status = 'running';
    if (this.mailbox.size > 0) this.system.dispatcher.schedule(this);
  }

  /**
   * In-place restart: the ref and mailbox survive; timers are cancelled, stashed messages go back
   * to the mailbox, children stop (reverse start order), onStop runs, and after the backoff init
   * runs again.
   */
  restart(delayMs: number): void {
    if (this.status === 'stopping' || this.status === 'stopped' || this.#restarting) return;
    if (this.#busy) {
      // Mid-handler (a sibling's restart under one-for-all): restart once the handler settles.
      if (this.#pending === undefined) this.#pending = { kind: 'restart', delayMs };
      return;
    }
    this.#restartNow(delayMs);
  }

  #restartNow(delayMs: number): void {
    this.status = 'suspended';
    this.restarts++;
    this.#restarting = true;
    this.#timers?.cancelAll();
    this.unstashAll();
    this.#busy = true;
    void this.#stopChildren()
      .then(() => this.#runOnStop())
      .then(() => {
        this.#hasState = false;
        this.#state = undefined;
        if (this.#pending?.kind === 'stop') {
          this.#restarting = false;
          this.#settle();
          return;
        }
        this.#pending = undefined;
        this.#restartTimer = this.env.setTimer(delayMs, () => {
          this.#restartTimer = undefined;
          this.#restarting = false;
          this.start();
        });
      });
  }

  // ── Stopping ─────────────────────────────────────────────────────────────

  /** Stops this actor (children first); resolves when it has terminated. */
  stop(reason: TerminationReason = 'stopped'): Promise<void> {
    if (this.status === 'stopped' || this.status === 'stopping') return this.terminated;
    this.#stopReason = reason;
    if (this.#restartTimer !== undefined) {
      this.#restartTimer.cancel();
      this.#restartTimer = undefined;
      this.#restarting = false;
      this.#busy = false;
    }
    if (this.#busy) {
      this.#pending = { kind: 'stop' };
      return this.terminated;
    }
    const terminated = this.terminated;
    this.#beginStop();
    return terminated;
  }

  #beginStop(): void {
    this.status = 'stopping';
    this.#timers?.cancelAll();
    void this.#stopChildren()
      .then(() => this.#runOnStop())
      .then(() => this.#finalize());
  }

  async #stopChildren(): Promise<void> {
    const children = [...this.children.values()].reverse();
    for (const child of children) await child.stop('stopped');
  }

  async #runOnStop(): Promise<void> {
    if (!this.#hasState || this.behavior.onStop === undefined) return;
    try {
      await this.behavior.onStop(this.#state as S, this.#ctx);
    } catch (error) {
      this.log.error({ err: error }, 'onStop failed');
    }
  }

  #finalize(): void {
    this.status = 'stopped';
    this.system.unregister(this);
    this.parent?.removeChild(this);
    for (const [message, sender] of [...this.mailbox.drain(), ...(this.#stash ?? [])]) {
      if (sender instanceof TimerMark) continue;
      this.system.deadLetter(this.ref, message, 'actor stopped', sender, 'Unavailable');
    }
    this.#stash = undefined;
    const terminated: Terminated = { type: 'terminated', ref: this.ref as AnyRef, reason: this.#stopReason };
    for (const watcher of this.#watchers?.values() ?? []) this.system.sendTerminated(watcher, terminated);
    this.#watchers = undefined;
    for (const { target } of this.#watching?.values() ?? []) this.system.unwatch(target, this.ref as AnyRef);
    this.#watching = undefined;
    this.#markTerminated?.();
  }

  // ── Death-watch ──────────────────────────────────────────────────────────

  watch(target: AnyRef, onTerminated: ((t: Terminated) => M) | undefined): void {
    (this.#watching ??= new Map()).set(refToString(target), { target, map: onTerminated });
    this.system.watch(target, this.ref as AnyRef);
  }

  unwatch(target: AnyRef): void {
    const key = refToString(target);
    if (this.#watching?.delete(key) !== true) return;
    this.system.unwatch(target, this.ref as AnyRef);
  }

  /** A watched actor terminated: deliver it if this actor still watches it. */
  deliverTerminated(terminated: Terminated): void {
    const key = refToString(terminated.ref);
    const entry = this.#watching?.get(key);
    if (entry === undefined) return;
    this.#watching!.delete(key);
    const map = entry.map;
    this.enqueue(map === undefined ? (terminated as unknown as M) : map(terminated), undefined, true);
  }

  // ── Context operations ───────────────────────────────────────────────────

  spawnChild<S2, M2 extends Message>(behavior: Behavior<S2, M2>, options: SpawnOptions = {}): ActorRef<M2> {
    if (this.status === 'stopping' || this.status === 'stopped') {
      throw new UltraError('FailedPrecondition', `cannot spawn under ${this.path}: it is ${this.status}`);
    }
    const name = options.name ?? `$${++this.#nameSeq}`;
    if (options.name !== undefined && !isValidActorName(name)) {
      throw new UltraError('InvalidArgument', `invalid actor name '${name}': one path segment of [A-Za-z0-9_.~:@+=-], at most 128 characters, not starting with '$'`);
    }
    if (this.children.has(name)) throw new UltraError('AlreadyExists', `actor ${this.path}/${name} already exists`);
    const child = new Cell<S2, M2>(this.system, this, name, behavior, options);
    (this.#children ??= new Map()).set(name, child);
    this.system.register(child);
    child.start();
    return child.ref;
  }

  replyTo(message: M): ReplyAddress | undefined {
    if (message !== this.#current) {
      throw new UltraError('FailedPrecondition', `${this.path}: reply() must be given the message being handled (use deferReply to answer later)`);
    }
    const sender = this.#currentSender;
    this.#currentAnswered = true;
    return sender instanceof TimerMark ? undefined : sender;
  }

  stashCurrent(): void {
    if (this.#current === undefined) throw new UltraError('FailedPrecondition', `${this.path}: stash() outside a message handler`);
    this.#stash ??= [];
    if (this.#stash.length >= MAX_STASH) throw new UltraError('ResourceExhausted', `${this.path}: stash is full (${MAX_STASH} messages)`);
    this.#stash.push([this.#current, this.#currentSender]);
  }

  unstashAll(): void {
    const stashed = this.#stash ?? [];
    this.#stash = undefined;
    for (let i = stashed.length - 1; i >= 0; i--) this.mailbox.unshift(stashed[i]![0], stashed[i]![1]);
    if (stashed.length > 0 && this.status === 'running' && !this.#busy) this.system.dispatcher.schedule(this);
  }

  get timers(): TimerSet<M> {
    return (this.#timers ??= new TimerSet<M>(this));
  }

  selfStop(): void {
    if (this.restartType === 'permanent' && this.parent !== undefined && !this.system.isGuardian(this.parent) && this.parent.status === 'running') {
      this.parent.childExited(this);
      return;
    }
    void this.stop('stopped');
  }

  info(depth: number): ActorInfo {
    return {
      path: this.path,
      name: this.name,
      status: this.status,
      mailboxSize: this.mailbox.size,
      restarts: this.restarts,
      children: depth <= 0 ? [] : [...this.children.values()].map((c) => c.info(depth - 1)),
    };
  }
}

/** Keyed single and periodic timers that deliver messages to their actor. */
class TimerSet<M extends Message> implements Timers<M> {
  readonly #cell: Cell<any, M>;
  readonly #timers = new Map<string, { generation: number; timer: Timer; periodic: boolean }>();
  #generation = 0;

  constructor(cell: Cell<any, M>) {
    this.#cell = cell;
  }

  startSingle(key: string, message: M, delayMs: number): void {
    this.#start(key, message, delayMs, false);
  }

  startPeriodic(key: string, message: M, intervalMs: number): void {
    if (!(intervalMs > 0)) throw new UltraError('InvalidArgument', `periodic timer '${key}' needs intervalMs > 0, got ${intervalMs}`);
    this.#start(key, message, intervalMs, true);
  }

  cancel(key: string): void {
    this.#timers.get(key)?.timer.cancel();
    this.#timers.delete(key);
  }

  cancelAll(): void {
    for (const t of this.#timers.values()) t.timer.cancel();
    this.#timers.clear();
  }

  isActive(key: string): boolean {
    return this.#timers.has(key);
  }

  /** Whether a dequeued timer message is still wanted (its timer was not cancelled or replaced). */
  accept(mark: TimerMark): boolean {
    const entry = this.#timers.get(mark.key);
    if (entry === undefined || entry.generation !== mark.generation) return false;
    if (!entry.periodic) this.#timers.delete(mark.key);
    return true;
  }

  #start(key: string, message: M, delayMs: number, periodic: boolean): void {
    this.cancel(key);
    const generation = ++this.#generation;
    const mark = new TimerMark(key, generation);
    const fire = (): void => {
      const entry = this.#timers.get(key);
      if (entry === undefined || entry.generation !== generation) return;
      if (periodic) entry.timer = this.#cell.env.setTimer(delayMs, fire);
      this.#cell.enqueue(message, mark);
    };
    this.#timers.set(key, { generation, timer: this.#cell.env.setTimer(delayMs, fire), periodic });
  }
}

const NO_CHILDREN: ReadonlyMap<string, Cell<any, any>> = new Map();

/** The ActorContext handed to behaviors: a thin view of its cell (methods on the prototype, one field). */
class Context<M extends Message> implements ActorContext<M> {
  readonly #cell: Cell<any, M>;

  constructor(cell: Cell<any, M>) {
    this.#cell = cell;
  }

  get self(): ActorRef<M> {
    return this.#cell.ref;
  }

  get parent(): AnyRef | undefined {
    return this.#cell.parent?.ref as AnyRef | undefined;
  }

  get system(): ActorSystem {
    return this.#cell.system;
  }

  get env(): Env {
    return this.#cell.system.env;
  }

  get log(): Logger {
    return this.#cell.log;
  }

  get timers(): Timers<M> {
    return this.#cell.timers;
  }

  spawn<S2, M2 extends Message>(behavior: Behavior<S2, M2>, options?: SpawnOptions): ActorRef<M2> {
    return this.#cell.spawnChild(behavior, options);
  }

  stop(child?: AnyRef): void {
    const cell = this.#cell;
    if (child === undefined) {
      cell.selfStop();
      return;
    }
    const target = cell.children.get(child.path.slice(child.path.lastIndexOf('/') + 1));
    if (target === undefined || target.uid !== child.uid) {
      throw new UltraError('NotFound', `${refToString(child)} is not a child of ${cell.path}`);
    }
    void target.stop('stopped');
  }

  children(): AnyRef[] {
    return [...this.#cell.children.values()].map((c) => c.ref as AnyRef);
  }

  child(name: string): AnyRef | undefined {
    return this.#cell.children.get(name)?.ref as AnyRef | undefined;
  }

  tell<M2 extends Message>(ref: ActorRef<M2>, message: M2): void {
    this.#cell.system.tell(ref, message);
  }

  ask<M2 extends Message, const Q extends M2>(ref: ActorRef<M2>, message: Q, options: AskOptions): Promise<ReplyFor<M2, Q>> {
    return this.#cell.system.ask(ref, message, options);
  }

  reply<Q extends M>(message: Q, value: ReplyOf<Q>): void {
    const cell = this.#cell;
    const address = cell.replyTo(message);
    if (address === undefined) {
      cell.system.deadLetter(cell.ref as AnyRef, value, 'reply to a message that was not an ask', undefined);
      return;
    }
    cell.system.sendReply(address, { ok: true, value });
  }

  replyError(message: M, error: ErrorData | Error): void {
    const address = this.#cell.replyTo(message);
    if (address !== undefined) this.#cell.system.sendReply(address, { ok: false, error: toErrorData(error) });
  }

  deferReply<Q extends M>(message: Q): DeferredReply<ReplyOf<Q>> {
    const cell = this.#cell;
    const address = cell.replyTo(message);
    let answered = false;
    const send = (reply: { ok: true; value: unknown } | { ok: false; error: ErrorData }): void => {
      if (answered) throw new UltraError('FailedPrecondition', `${cell.path}: a deferred reply can be sent once`);
      answered = true;
      if (address !== undefined) cell.system.sendReply(address, reply);
    };
    return {
      ok: (value) => send({ ok: true, value }),
      error: (error) => send({ ok: false, error: toErrorData(error) }),
    };
  }

  watch(ref: AnyRef, onTerminated?: (terminated: Terminated) => M): void {
    this.#cell.watch(ref, onTerminated);
  }

  unwatch(ref: AnyRef): void {
    this.#cell.unwatch(ref);
  }

  stash(): void {
    this.#cell.stashCurrent();
  }

  unstashAll(): void {
    this.#cell.unstashAll();
  }
}

function toErrorData(error: ErrorData | Error): ErrorData {
  return error instanceof Error ? UltraError.from(error).toData() : error;
}
