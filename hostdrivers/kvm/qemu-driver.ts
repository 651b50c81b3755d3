// The real hypervisor driver: one daemonized qemu-system-x86_64 per VM, driven over QMP.
//
// Per VM, `<runDir>/<vmId>/` holds the QMP socket, the pid file, the serial console log (QEMU
// writes it itself, so nothing is lost while the agent is down), the config drive and launch.json.
// QEMU daemonizes, so it outlives the agent; a new agent re-adopts it from the pid file (checked
// against /proc/<pid>/cmdline, against pid reuse) and the QMP socket. KVM is used when /dev/kvm is
// usable (or when configured), TCG otherwise; the choice is logged once.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import type { Env } from '../../runtime/env/env.ts';
import { UltraError } from '../../runtime/errors.ts';
import type { Logger } from '../../runtime/log/logger.ts';
import { buildConfigDrive } from './config-drive.ts';
import type { ConsoleChunk, HypervisorDriver, LaunchSpec, MigrationAddress, MigrationProgress, MigrationStatus, ProcessEvent, RunStatus, VmProcess } from './driver.ts';
import { incomingRelay, outgoingRelay, type Relay } from './migration-relay.ts';
import { QmpClient } from './qmp-client.ts';
import { processName, qemuArgs, vmPaths, type Accel, type VmPaths } from './qemu-args.ts';

export type AccelSetting = 'auto' | 'kvm' | 'tcg';

export interface QemuDriverOptions {
  readonly runDir: string;
  readonly env: Env;
  readonly log: Logger;
  readonly accel: AccelSetting;
  /** Address the incoming-migration relay listens on (this node's address as other workers reach it). */
  readonly migrationHost: string;
  readonly qemuBinary?: string;
  /** Bound on QEMU's start (until it daemonized). */
  readonly launchTimeoutMs?: number;
}

const EXIT_POLL_MS = 50;
const QUIT_GRACE_MS = 5_000;
const VM_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * `kvm` when /dev/kvm can be opened read-write and QEMU can actually bring a KVM vCPU up with the
 * CPU model we launch guests with, else `tcg`; a forced setting wins. The probe matters under
 * nested virtualization: /dev/kvm may be there while KVM cannot run our guests (QEMU aborts setting
 * MSRs). It starts QEMU paused with a QMP monitor on stdin and quits it at once: tens of ms.
 */
export function resolveAccel(setting: AccelSetting, qemuBinary = 'qemu-system-x86_64', kvmDevice = '/dev/kvm'): { accel: Accel; reason: string } {
  if (setting !== 'auto') return { accel: setting, reason: `configured accel ${setting}` };
  try {
    accessSync(kvmDevice, constants.R_OK | constants.W_OK);
  } catch (error) {
    return { accel: 'tcg', reason: `${kvmDevice} is not usable (${(error as NodeJS.ErrnoException).code ?? 'error'}): software emulation (TCG), much slower` };
  }
  const probe = spawnSync(qemuBinary, ['-accel', 'kvm', '-cpu', 'host', '-m', '16', '-nodefaults', '-display', 'none', '-S', '-qmp', 'stdio'], {
    input: '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n',
    timeout: 10_000,
    encoding: 'utf8',
  });
  if (probe.status === 0) return { accel: 'kvm', reason: `${kvmDevice} is usable` };
  const why = probe.error?.message ?? probe.stderr.split('\n').find((line) => line.includes('error')) ?? `exit ${probe.status ?? probe.signal}`;
  return { accel: 'tcg', reason: `${kvmDevice} is present but KVM cannot run a vCPU here (${why.trim()}): software emulation (TCG), much slower` };
}

export class QemuDriver implements HypervisorDriver {
  readonly kind = 'qemu' as const;
  readonly accel: Accel;
  readonly #options: QemuDriverOptions;
  readonly #processes = new Map<string, QemuProcess>();

  constructor(options: QemuDriverOptions) {
    this.#options = options;
    const { accel, reason } = resolveAccel(options.accel, options.qemuBinary);
    this.accel = accel;
    options.log.info({ accel, reason }, `kvm driver: accel ${accel}`);
  }

  async launch(spec: LaunchSpec): Promise<VmProcess> {
    checkVmId(spec.vmId);
    const existing = await this.adopt(spec.vmId);
    if (existing !== undefined) throw new UltraError('FailedPrecondition', `VM ${spec.vmId} already has a QEMU process (pid ${existing.pid}); adopt it instead of launching another`);
    const paths = vmPaths(this.#options.runDir, spec.vmId);
    await mkdir(paths.dir, { recursive: true, mode: 0o750 });
    await Promise.all([paths.qmp, paths.pid, paths.incoming, paths.outgoing, paths.seed].map((p) => rm(p, { force: true })));
    if (spec.cloudInit !== undefined) await buildConfigDrive(paths.seed, spec.cloudInit);
    const { args, netns } = qemuArgs(spec, paths, this.accel, spec.cloudInit !== undefined);
    await writeFile(paths.launch, `${JSON.stringify({ vmId: spec.vmId, accel: this.accel, incoming: spec.incoming === true, netns: netns ?? null, startedAt: this.#options.env.now() })}\n`);
    const binary = this.#options.qemuBinary ?? 'qemu-system-x86_64';
    const [command, argv] = netns === undefined ? [binary, args] : ['ip', ['netns', 'exec', netns, binary, ...args]];
    const result = await execa(command, argv, { reject: false, timeout: this.#options.launchTimeoutMs ?? 60_000, stdin: 'ignore' });
    if (result.failed) {
      const missing = (result as { code?: string }).code === 'ENOENT';
      throw new UltraError(
        missing ? 'FailedPrecondition' : 'Internal',
        missing ? `${command} is not installed: apt-get install ${netns === undefined ? 'qemu-system-x86' : 'iproute2 qemu-system-x86'}` : `QEMU for VM ${spec.vmId} failed to start (exit ${result.exitCode}): ${String(result.stderr).trim().slice(-800)}`,
      );
    }
    const pid = await readPid(paths.pid);
    if (pid === undefined) throw new UltraError('Internal', `QEMU for VM ${spec.vmId} started but wrote no pid file at ${paths.pid}`);
    const vm = await this.#attach(spec.vmId, pid, paths, this.accel, spec.incoming === true);
    if (spec.incoming === true) {
      try {
        await vm.listenIncoming(this.#options.migrationHost);
      } catch (error) {
        await vm.quit();
        throw error;
      }
    }
    this.#options.log.info({ vmId: spec.vmId, pid, accel: this.accel, netns, incoming: spec.incoming === true }, 'QEMU started');
    return vm;
  }

  async adopt(vmId: string): Promise<VmProcess | undefined> {
    checkVmId(vmId);
    const known = this.#processes.get(vmId);
    if (known !== undefined && known.alive && !known.detached) return known;
    const paths = vmPaths(this.#options.runDir, vmId);
    const pid = await readPid(paths.pid);
    if (pid === undefined || !(await isQemuOf(pid, vmId))) return undefined;
    let launch: { accel?: string; incoming?: boolean } = {};
    try {
      launch = JSON.parse(await readFile(paths.launch, 'utf8')) as typeof launch;
    } catch {
      // An older or partial run dir: the process is still ours by its cmdline.
    }
    const vm = await this.#attach(vmId, pid, paths, launch.accel ?? this.accel, launch.incoming === true);
    this.#options.log.info({ vmId, pid }, 'QEMU re-adopted');
    return vm;
  }

  async list(): Promise<string[]> {
    try {
      const entries = await readdir(this.#options.runDir, { withFileTypes: true });
      return entries.filter((e) => e.isDirectory() && VM_ID.test(e.name)).map((e) => e.name).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  async cleanup(vmId: string, options: { readonly console?: boolean } = {}): Promise<void> {
    checkVmId(vmId);
    const live = await this.adopt(vmId);
    if (live !== undefined) throw new UltraError('FailedPrecondition', `VM ${vmId} still has a QEMU process (pid ${live.pid}); quit it before cleaning up`);
    const paths = vmPaths(this.#options.runDir, vmId);
    if (options.console === true) {
      await rm(paths.dir, { recursive: true, force: true });
    } else {
      await Promise.all([paths.qmp, paths.pid, paths.incoming, paths.outgoing, paths.seed, paths.launch].map((p) => rm(p, { force: true })));
    }
    this.#processes.delete(vmId);
  }

  async console(vmId: string, offset: number, maxBytes: number): Promise<ConsoleChunk> {
    checkVmId(vmId);
    return readConsole(vmPaths(this.#options.runDir, vmId).console, offset, maxBytes);
  }

  async close(): Promise<void> {
    for (const vm of this.#processes.values()) vm.detach();
    this.#processes.clear();
  }

  async #attach(vmId: string, pid: number, paths: VmPaths, accel: string, incoming: boolean): Promise<QemuProcess> {
    const qmp = await QmpClient.connect(paths.qmp, this.#options.env);
    const vm = new QemuProcess(vmId, pid, accel, incoming, paths, qmp, this.#options.env);
    this.#processes.set(vmId, vm);
    return vm;
  }
}

class QemuProcess implements VmProcess {
  readonly vmId: string;
  readonly pid: number;
  readonly accel: string;
  readonly #incoming: boolean;
  readonly #paths: VmPaths;
  readonly #qmp: QmpClient;
  readonly #env: Env;
  readonly #listeners = new Set<(event: ProcessEvent) => void>();
  #alive = true;
  #detached = false;
  #incomingRelay: Relay | undefined;
  #outgoingRelay: Relay | undefined;

  constructor(vmId: string, pid: number, accel: string, incoming: boolean, paths: VmPaths, qmp: QmpClient, env: Env) {
    this.vmId = vmId;
    this.pid = pid;
    this.accel = accel;
    this.#incoming = incoming;
    this.#paths = paths;
    this.#qmp = qmp;
    this.#env = env;
    qmp.onEvent((e) => {
      const event = toProcessEvent(e.event, e.data);
      if (event === undefined) return;
      if (event.type === 'migration' && ['completed', 'failed', 'cancelled'].includes(event.status)) void this.#closeRelays();
      this.#emit(event);
    });
    // QMP closes when QEMU exits (or when we detach): then watch the pid until it is gone.
    qmp.onClose(() => {
      if (!this.#detached) this.#watchExit();
    });
  }

  get alive(): boolean {
    return this.#alive;
  }

  get detached(): boolean {
    return this.#detached;
  }

  async status(): Promise<RunStatus> {
    const result = await this.#qmp.execute<{ status?: string }>('query-status');
    return toRunStatus(result.status);
  }

  async powerdown(timeoutMs: number): Promise<'guest' | 'forced'> {
    if (!this.#alive) return 'guest';
    try {
      await this.#qmp.execute('system_powerdown');
    } catch (error) {
      if (!this.#alive) return 'guest';
      throw error;
    }
    if (await this.#waitExit(timeoutMs)) return 'guest';
    await this.quit();
    return 'forced';
  }

  async quit(): Promise<void> {
    if (!this.#alive) return;
    // QEMU may close the socket before it answers `quit`: the exit is what counts.
    await this.#qmp.execute('quit', undefined, QUIT_GRACE_MS).catch(() => undefined);
    if (await this.#waitExit(QUIT_GRACE_MS)) return;
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    await this.#waitExit(QUIT_GRACE_MS);
  }

  async pause(): Promise<void> {
    await this.#qmp.execute('stop');
  }

  async resume(): Promise<void> {
    await this.#qmp.execute('cont');
  }

  async reset(): Promise<void> {
    await this.#qmp.execute('system_reset');
  }

  async migrate(target: MigrationAddress): Promise<void> {
    await this.#closeRelays();
    this.#outgoingRelay = await outgoingRelay(this.#paths.outgoing, target);
    await this.#qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
    // The default bandwidth cap (128 MiB/s) is for shared links; workers migrate over the node network.
    await this.#qmp.execute('migrate-set-parameters', { 'max-bandwidth': 1024 * 1024 * 1024 });
    await this.#qmp.execute('migrate', { uri: `unix:${this.#paths.outgoing}` });
  }

  async migration(): Promise<MigrationProgress> {
    const info = await this.#qmp.execute<{ status?: string; ram?: { transferred?: number; total?: number }; 'error-desc'?: string }>('query-migrate');
    return {
      status: toMigrationStatus(info.status),
      ...(info.ram?.transferred === undefined ? {} : { transferredBytes: info.ram.transferred }),
      ...(info.ram?.total === undefined ? {} : { totalBytes: info.ram.total }),
      ...(info['error-desc'] === undefined ? {} : { error: info['error-desc'] }),
    };
  }

  async cancelMigration(): Promise<void> {
    await this.#qmp.execute('migrate_cancel');
  }

  incomingAddress(): MigrationAddress | undefined {
    return this.#incomingRelay?.address;
  }

  async listenIncoming(host: string): Promise<void> {
    if (!this.#incoming) throw new UltraError('Internal', `VM ${this.vmId} was not started as a migration target`);
    await this.#qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
    this.#incomingRelay = await incomingRelay(host, this.#paths.incoming);
  }

  onEvent(listener: (event: ProcessEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  detach(): void {
    this.#detached = true;
    this.#qmp.close();
    void this.#closeRelays();
    this.#listeners.clear();
  }

  #emit(event: ProcessEvent): void {
    for (const listener of [...this.#listeners]) listener(event);
  }

  #watchExit(): void {
    const poll = (): void => {
      if (!this.#alive) return;
      if (pidAlive(this.pid)) {
        this.#env.setTimer(EXIT_POLL_MS, poll);
        return;
      }
      this.#alive = false;
      void this.#closeRelays();
      this.#emit({ type: 'exited' });
    };
    poll();
  }

  /** Resolves true once the process is gone, false after `timeoutMs`. */
  #waitExit(timeoutMs: number): Promise<boolean> {
    if (!this.#alive) return Promise.resolve(true);
    return new Promise((resolve) => {
      let settled = false;
      const stop = this.onEvent((e) => {
        if (e.type !== 'exited' || settled) return;
        settled = true;
        timer.cancel();
        stop();
        resolve(true);
      });
      const timer = this.#env.setTimer(timeoutMs, () => {
        if (settled) return;
        settled = true;
        stop();
        resolve(!this.#alive);
      });
    });
  }

  async #closeRelays(): Promise<void> {
    const relays = [this.#outgoingRelay, this.#incomingRelay];
    this.#outgoingRelay = undefined;
    this.#incomingRelay = undefined;
    await Promise.all(relays.map((r) => r?.close()));
  }
}

function checkVmId(vmId: string): void {
  if (!VM_ID.test(vmId)) throw new UltraError('InvalidArgument', `VM id '${vmId.slice(0, 80)}' is not a valid run directory name`);
}

async function readPid(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether `pid` is the QEMU of `vmId` (not a recycled pid of something else). */
async function isQemuOf(pid: number, vmId: string): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.split('\u0000').includes(`guest=${processName(vmId)},debug-threads=on`);
  } catch {
    return false;
  }
}

export async function readConsole(path: string, offset: number, maxBytes: number): Promise<ConsoleChunk> {
  if (!Number.isInteger(maxBytes) || maxBytes < 1 || maxBytes > 1024 * 1024) throw new UltraError('InvalidArgument', `console chunk must be 1..1048576 bytes, got ${maxBytes}`);
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    return { data: '', offset: 0, next: 0, size: 0 };
  }
  const start = offset < 0 ? Math.max(0, size - maxBytes) : Math.min(offset, size);
  const length = Math.min(maxBytes, size - start);
  if (length <= 0) return { data: '', offset: start, next: start, size };
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, start);
    // Do not split a UTF-8 sequence at the end: the next read starts at its first byte.
    const end = completeUtf8Length(buffer.subarray(0, bytesRead));
    return { data: buffer.subarray(0, end).toString('utf8'), offset: start, next: start + end, size };
  } finally {
    await handle.close();
  }
}

/** The length of `bytes` without a trailing incomplete UTF-8 sequence. */
export function completeUtf8Length(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const b = bytes[bytes.length - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead byte
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
}

function toRunStatus(status: string | undefined): RunStatus {
  switch (status) {
    case 'running':
    case 'paused':
    case 'inmigrate':
    case 'postmigrate':
    case 'finish-migrate':
    case 'shutdown':
    case 'internal-error':
    case 'guest-panicked':
    case 'prelaunch':
      return status;
    default:
      return 'other';
  }
}

function toMigrationStatus(status: string | undefined): MigrationStatus {
  switch (status) {
    case undefined:
      return 'none';
    case 'none':
    case 'setup':
    case 'active':
    case 'pre-switchover':
    case 'device':
    case 'completed':
    case 'failed':
    case 'cancelling':
    case 'cancelled':
      return status;
    default:
      return 'other';
  }
}

function toProcessEvent(event: string, data: Record<string, unknown> | undefined): ProcessEvent | undefined {
  switch (event) {
    case 'SHUTDOWN':
      return { type: 'shutdown', guest: data?.guest === true, reason: typeof data?.reason === 'string' ? data.reason : 'unknown' };
    case 'STOP':
      return { type: 'stop' };
    case 'RESUME':
      return { type: 'resume' };
    case 'RESET':
      return { type: 'reset' };
    case 'MIGRATION':
      return { type: 'migration', status: toMigrationStatus(typeof data?.status === 'string' ? data.status : undefined) };
    default:
      return undefined;
  }
}
