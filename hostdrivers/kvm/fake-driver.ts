// The fake hypervisor: the same HypervisorDriver contract as QemuDriver, with "QEMU processes" kept
// in memory per host, for the simulator, actor tests and benchmarks (chosen by configuration:
// `driver: "fake"`). What it keeps faithful:
// - processes outlive the agent (a new FakeDriver on the same FakeHost re-adopts them), and die
//   with the host's power (`powerLoss`);
// - every call answers after a latency on the caller's Env, so a crashed caller never hears back,
//   while the effect (a launched process, a quit) may already have happened;
// - live migration runs inside the "QEMU", on the host's own clock: it completes even if the
//   agent that started it died, and at completion the source stops before the target may run
//   (the target arrives paused, like `-incoming` with `-S`);
// - the guest answers the ACPI power button unless told to ignore it.
// `FakeFleet.runningCopies` is the ground truth the simulator checks: no VM runs twice.
import type { Env } from '../../runtime/env/env.ts';
import { UltraError } from '../../runtime/errors.ts';
import type { ConsoleChunk, HypervisorDriver, LaunchSpec, MigrationAddress, MigrationProgress, MigrationStatus, ProcessEvent, RunStatus, VmProcess } from './driver.ts';

/** Runs `fn` after `delayMs` on a clock that is not any agent's (the simulator's harness clock). */
export type HostClock = (delayMs: number, fn: () => void) => void;

export interface FakeProcessState {
  readonly vmId: string;
  readonly pid: number;
  readonly node: string;
  readonly spec: LaunchSpec;
  status: RunStatus;
  migration: MigrationStatus;
  console: string;
  exited: boolean;
  /** Where an active outgoing migration goes. */
  migratingTo: MigrationAddress | undefined;
  /** The driver (agent incarnation) that launched it. */
  readonly launcher: object;
}

export interface FakeHostOptions {
  /** How long a guest takes to boot to its ready marker, and to power off after the button. */
  readonly guestMs?: number;
  /** How long a live migration takes inside QEMU. */
  readonly migrationMs?: number;
}

/** Every fake host, by node id: where migrations find their target. */
export class FakeFleet {
  readonly hosts = new Map<string, FakeHost>();
  readonly #clock: HostClock;
  readonly #options: FakeHostOptions;
  #nextPid = 1000;

  constructor(clock: HostClock, options: FakeHostOptions = {}) {
    this.#clock = clock;
    this.#options = options;
  }

  host(node: string): FakeHost {
    let host = this.hosts.get(node);
    if (host === undefined) this.hosts.set(node, (host = new FakeHost(node, this, this.#clock, this.#options)));
    return host;
  }

  nextPid(): number {
    return this.#nextPid++;
  }

  /** Processes of `vmId` that are running (not paused, not migrated away), across all hosts. */
  runningCopies(vmId: string): FakeProcessState[] {
    return [...this.hosts.values()].flatMap((h) => [...h.processes.values()].filter((p) => p.vmId === vmId && !p.exited && p.status === 'running'));
  }

  /** Every live process, for invariant checks. */
  allProcesses(): FakeProcessState[] {
    return [...this.hosts.values()].flatMap((h) => [...h.processes.values()].filter((p) => !p.exited));
  }
}

export class FakeHost {
  readonly node: string;
  /** Processes a driver found that an earlier driver (a previous agent) had launched. */
  readopted = 0;
  readonly processes = new Map<string, FakeProcessState>();
  /** VM ids with run files (a process, or leftovers after one died). */
  readonly runFiles = new Set<string>();
  /** Guests that ignore the ACPI power button (powerdown then has to quit them). */
  readonly ignorePowerdown = new Set<string>();
  readonly #fleet: FakeFleet;
  readonly #clock: HostClock;
  readonly #options: FakeHostOptions;
  readonly #listeners = new Map<string, Set<(event: ProcessEvent) => void>>();

  constructor(node: string, fleet: FakeFleet, clock: HostClock, options: FakeHostOptions) {
    this.node = node;
    this.#fleet = fleet;
    this.#clock = clock;
    this.#options = options;
  }

  /** The machine loses power: every process is gone at once (run files stay, as on a real disk). */
  powerLoss(): void {
    for (const p of [...this.processes.values()]) this.exit(p);
  }

  start(spec: LaunchSpec, launcher: object): FakeProcessState {
    const existing = this.processes.get(spec.vmId);
    if (existing !== undefined && !existing.exited) throw new UltraError('FailedPrecondition', `VM ${spec.vmId} already has a process on ${this.node} (pid ${existing.pid})`);
    const state: FakeProcessState = {
      vmId: spec.vmId,
      pid: this.#fleet.nextPid(),
      node: this.node,
      spec,
      status: spec.incoming === true ? 'inmigrate' : 'running',
      migration: 'none',
      console: spec.incoming === true ? '' : 'SeaBIOS (fake)\n',
      exited: false,
      migratingTo: undefined,
      launcher,
    };
    this.processes.set(spec.vmId, state);
    this.runFiles.add(spec.vmId);
    if (spec.incoming !== true) {
      this.#clock(this.#options.guestMs ?? 50, () => {
        if (!state.exited) state.console += `ULTRACLOUD-GUEST-READY fake ${spec.vmId}\n`;
      });
    }
    return state;
  }

  exit(state: FakeProcessState): void {
    if (state.exited) return;
    state.exited = true;
    state.status = 'shutdown';
    if (this.processes.get(state.vmId) === state) this.processes.delete(state.vmId);
    this.emit(state.vmId, { type: 'exited' });
    // A source that dies mid-stream breaks the migration: the target's load fails and it exits.
    const to = state.migration === 'active' ? state.migratingTo : undefined;
    if (to !== undefined) {
      const host = this.#fleet.hosts.get(to.host);
      const dest = host?.processes.get(state.vmId);
      if (host !== undefined && dest !== undefined && dest.pid === to.port && dest.status === 'inmigrate') host.exit(dest);
    }
  }

  powerButton(state: FakeProcessState): void {
    if (this.ignorePowerdown.has(state.vmId) || state.status !== 'running') return;
    this.#clock(this.#options.guestMs ?? 50, () => {
      if (state.exited) return;
      this.emit(state.vmId, { type: 'shutdown', guest: true, reason: 'guest-shutdown' });
      this.exit(state);
    });
  }

  /** Runs the migration of `source` to the incoming process at `target` inside "QEMU". */
  migrate(source: FakeProcessState, target: MigrationAddress): void {
    source.migration = 'active';
    source.migratingTo = target;
    this.emit(source.vmId, { type: 'migration', status: 'active' });
    this.#clock(this.#options.migrationMs ?? 100, () => {
      if (source.exited || source.migration !== 'active') return;
      const dest = this.#fleet.hosts.get(target.host)?.processes.get(source.vmId);
      if (dest === undefined || dest.exited || dest.pid !== target.port || dest.status !== 'inmigrate') {
        source.migration = 'failed';
        this.emit(source.vmId, { type: 'migration', status: 'failed' });
        return;
      }
      // The switch-over: the source stops for good, then the target holds the state, paused.
      source.status = 'postmigrate';
      source.migration = 'completed';
      dest.status = 'paused';
      dest.migration = 'completed';
      dest.console += `ULTRACLOUD-GUEST-READY fake ${source.vmId} (migrated)\n`;
      this.emit(source.vmId, { type: 'stop' });
      this.emit(source.vmId, { type: 'migration', status: 'completed' });
      this.#fleet.hosts.get(target.host)!.emit(dest.vmId, { type: 'migration', status: 'completed' });
    });
  }

  /** The source cancels: the stream closes, so the target's load fails and it exits. */
  cancelMigration(source: FakeProcessState): void {
    source.migration = 'cancelled';
    this.emit(source.vmId, { type: 'migration', status: 'cancelled' });
    const to = source.migratingTo;
    const host = to === undefined ? undefined : this.#fleet.hosts.get(to.host);
    const dest = host?.processes.get(source.vmId);
    if (host !== undefined && dest !== undefined && dest.pid === to?.port && dest.status === 'inmigrate') host.exit(dest);
  }

  listen(vmId: string, listener: (event: ProcessEvent) => void): () => void {
    let set = this.#listeners.get(vmId);
    if (set === undefined) this.#listeners.set(vmId, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  emit(vmId: string, event: ProcessEvent): void {
    for (const listener of [...(this.#listeners.get(vmId) ?? [])]) listener(event);
  }
}

export interface FakeDriverOptions {
  /** The agent's Env: replies arrive on it (a crashed agent never hears back). */
  readonly env: Env;
  /** Per-call latency in ms (half before the effect, half after). */
  readonly latencyMs?: number;
  /** How long a launch takes (QEMU starting up and daemonizing); default: the call latency. */
  readonly launchMs?: number;
}

export class FakeDriver implements HypervisorDriver {
  readonly kind = 'fake' as const;
  readonly accel = 'fake';
  readonly host: FakeHost;
  readonly #env: Env;
  readonly #latencyMs: number;
  readonly #launchMs: number;
  readonly #handles = new Set<FakeVmProcess>();

  constructor(host: FakeHost, options: FakeDriverOptions) {
    this.host = host;
    this.#env = options.env;
    this.#latencyMs = options.latencyMs ?? 2;
    this.#launchMs = options.launchMs ?? this.#latencyMs;
  }

  /** Runs `fn` after `ms` on the agent's Env. */
  sleep(ms: number, fn: () => void): void {
    this.#env.setTimer(ms, fn);
  }

  /** Waits half the latency, applies `effect`, waits the other half, answers. */
  call<T>(effect: () => T, latencyMs = this.#latencyMs): Promise<T> {
    const half = latencyMs / 2;
    return new Promise<T>((resolve, reject) => {
      this.#env.setTimer(half, () => {
        let result: T;
        try {
          result = effect();
        } catch (error) {
          this.#env.setTimer(half, () => reject(error as Error));
          return;
        }
        this.#env.setTimer(half, () => resolve(result));
      });
    });
  }

  launch(spec: LaunchSpec): Promise<VmProcess> {
    return this.call(() => this.#handle(this.host.start(spec, this)), this.#launchMs);
  }

  adopt(vmId: string): Promise<VmProcess | undefined> {
    return this.call(() => {
      const state = this.host.processes.get(vmId);
      if (state === undefined || state.exited) return undefined;
      if (state.launcher !== this) this.host.readopted++;
      return this.#handle(state);
    });
  }

  list(): Promise<string[]> {
    return this.call(() => [...new Set([...this.host.runFiles, ...this.host.processes.keys()])].sort());
  }

  cleanup(vmId: string): Promise<void> {
    return this.call(() => {
      const state = this.host.processes.get(vmId);
      if (state !== undefined && !state.exited) throw new UltraError('FailedPrecondition', `VM ${vmId} still has a process (pid ${state.pid}); quit it before cleaning up`);
      this.host.runFiles.delete(vmId);
    });
  }

  console(vmId: string, offset: number, maxBytes: number): Promise<ConsoleChunk> {
    return this.call(() => {
      const text = this.host.processes.get(vmId)?.console ?? '';
      const start = offset < 0 ? Math.max(0, text.length - maxBytes) : Math.min(offset, text.length);
      const data = text.slice(start, start + maxBytes);
      return { data, offset: start, next: start + data.length, size: text.length };
    });
  }

  async close(): Promise<void> {
    for (const h of this.#handles) h.detach();
    this.#handles.clear();
  }

  #handle(state: FakeProcessState): FakeVmProcess {
    const handle = new FakeVmProcess(this, state);
    this.#handles.add(handle);
    return handle;
  }
}

class FakeVmProcess implements VmProcess {
  readonly vmId: string;
  readonly pid: number;
  readonly accel = 'fake';
  readonly #driver: FakeDriver;
  readonly #state: FakeProcessState;
  readonly #listeners = new Set<(event: ProcessEvent) => void>();
  readonly #unlisten: () => void;

  constructor(driver: FakeDriver, state: FakeProcessState) {
    this.vmId = state.vmId;
    this.pid = state.pid;
    this.#driver = driver;
    this.#state = state;
    this.#unlisten = driver.host.listen(state.vmId, (event) => {
      for (const listener of [...this.#listeners]) listener(event);
    });
  }

  get alive(): boolean {
    return !this.#state.exited;
  }

  status(): Promise<RunStatus> {
    return this.#driver.call(() => {
      this.#live('query-status');
      return this.#state.status;
    });
  }

  async powerdown(timeoutMs: number): Promise<'guest' | 'forced'> {
    if (this.#state.exited) return 'guest';
    await this.#driver.call(() => this.#driver.host.powerButton(this.#state));
    const exited = await new Promise<boolean>((resolve) => {
      if (this.#state.exited) return resolve(true);
      let done = false;
      const finish = (value: boolean): void => {
        if (done) return;
        done = true;
        stop();
        resolve(value);
      };
      const stop = this.onEvent((e) => {
        if (e.type === 'exited') finish(true);
      });
      this.#driver.sleep(timeoutMs, () => finish(this.#state.exited));
    });
    if (exited) return 'guest';
    await this.quit();
    return 'forced';
  }

  quit(): Promise<void> {
    return this.#driver.call(() => {
      if (this.#state.exited) return;
      this.#driver.host.emit(this.vmId, { type: 'shutdown', guest: false, reason: 'host-qmp-quit' });
      this.#driver.host.exit(this.#state);
    });
  }

  pause(): Promise<void> {
    return this.#driver.call(() => {
      this.#live('stop');
      if (this.#state.status === 'running') {
        this.#state.status = 'paused';
        this.#driver.host.emit(this.vmId, { type: 'stop' });
      }
    });
  }

  resume(): Promise<void> {
    return this.#driver.call(() => {
      this.#live('cont');
      if (this.#state.status === 'inmigrate') throw new UltraError('FailedPrecondition', 'QMP cont: migration is expected (GenericError)');
      if (this.#state.status === 'paused' || this.#state.status === 'postmigrate') {
        this.#state.status = 'running';
        this.#driver.host.emit(this.vmId, { type: 'resume' });
      }
    });
  }

  reset(): Promise<void> {
    return this.#driver.call(() => {
      this.#live('system_reset');
      this.#state.console += `ULTRACLOUD-GUEST-READY fake ${this.vmId} (reset)\n`;
      this.#driver.host.emit(this.vmId, { type: 'reset' });
    });
  }

  migrate(target: MigrationAddress): Promise<void> {
    return this.#driver.call(() => {
      this.#live('migrate');
      if (this.#state.migration === 'active') throw new UltraError('FailedPrecondition', 'QMP migrate: there is already a migration in progress');
      this.#driver.host.migrate(this.#state, target);
    });
  }

  migration(): Promise<MigrationProgress> {
    return this.#driver.call(() => {
      this.#live('query-migrate');
      return { status: this.#state.migration };
    });
  }

  cancelMigration(): Promise<void> {
    return this.#driver.call(() => {
      this.#live('migrate_cancel');
      if (this.#state.migration === 'active') this.#driver.host.cancelMigration(this.#state);
    });
  }

  incomingAddress(): MigrationAddress | undefined {
    return this.#state.spec.incoming === true ? { host: this.#state.node, port: this.#state.pid } : undefined;
  }

  onEvent(listener: (event: ProcessEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  detach(): void {
    this.#listeners.clear();
    this.#unlisten();
  }

  #live(command: string): void {
    if (this.#state.exited) throw new UltraError('Unavailable', `QMP connection closed (QEMU exited?); cannot run ${command}`);
  }
}
