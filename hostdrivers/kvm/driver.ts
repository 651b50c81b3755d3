// The hypervisor host driver as plasmavmc's worker agent sees it: launch a VM process, find and
// re-adopt one that outlived the agent, drive its lifecycle (status, graceful powerdown, quit,
// pause/resume, reset), live-migrate it, and read its serial console. Two implementations behind
// this interface, chosen by configuration: QemuDriver (qemu-system-x86_64 + QMP) and FakeDriver
// (the simulator and unit tests).

/** QEMU's run states (QMP query-status), as far as the agent distinguishes them. */
export type RunStatus =
  | 'running'
  | 'paused'
  /** Waiting for (or receiving) an incoming migration. */
  | 'inmigrate'
  /** Migrated away: the state now lives on the target; this process must not run again. */
  | 'postmigrate'
  | 'finish-migrate'
  | 'shutdown'
  | 'internal-error'
  | 'guest-panicked'
  | 'prelaunch'
  | 'other';

export interface DiskSpec {
  readonly path: string;
  readonly format: 'qcow2' | 'raw';
  readonly readOnly?: boolean;
  /** Shown to the guest as the disk's serial number (`/dev/disk/by-id/virtio-<serial>`). */
  readonly serial?: string;
}

export interface NicAttachment {
  /** Tap device to open (created and plugged in by prismnet's dataplane). */
  readonly tap: string;
  /** Network namespace the tap lives in: QEMU is started inside it. */
  readonly netns?: string;
  readonly mac: string;
}

export interface LaunchSpec {
  readonly vmId: string;
  readonly name: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
  /** The first disk boots. */
  readonly disks: readonly DiskSpec[];
  readonly nics: readonly NicAttachment[];
  /** cloud-init NoCloud seed (instance id, user data); the driver builds the config drive. */
  readonly cloudInit?: { readonly instanceId: string; readonly hostname: string; readonly userData?: string; readonly metadata: Readonly<Record<string, string>> };
  /** Start as a live-migration target: paused until the state arrives and someone resumes it. */
  readonly incoming?: boolean;
}

/** Where a migration target receives the VM state (the target agent's relay endpoint). */
export interface MigrationAddress {
  readonly host: string;
  readonly port: number;
}

export type MigrationStatus = 'none' | 'setup' | 'active' | 'pre-switchover' | 'device' | 'completed' | 'failed' | 'cancelling' | 'cancelled' | 'other';

export interface MigrationProgress {
  readonly status: MigrationStatus;
  readonly transferredBytes?: number;
  readonly totalBytes?: number;
  readonly error?: string;
}

export type ProcessEvent =
  | { readonly type: 'shutdown'; readonly guest: boolean; readonly reason: string }
  | { readonly type: 'stop' }
  | { readonly type: 'resume' }
  | { readonly type: 'reset' }
  | { readonly type: 'migration'; readonly status: MigrationStatus }
  /** The process is gone (exited or killed). */
  | { readonly type: 'exited' };

export interface VmProcess {
  readonly vmId: string;
  readonly pid: number;
  /** The accelerator it runs with (`kvm` or `tcg`). */
  readonly accel: string;
  /** Whether the process still exists, as far as the driver knows. */
  readonly alive: boolean;
  status(): Promise<RunStatus>;
  /** ACPI power button; after `timeoutMs` without the guest powering off, quits. Says which happened. */
  powerdown(timeoutMs: number): Promise<'guest' | 'forced'>;
  /** Ends the process now (the guest gets no say); resolves once it is gone. */
  quit(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Hard reset (the reset button). */
  reset(): Promise<void>;
  /** Source side: starts sending the VM to a target's address. */
  migrate(target: MigrationAddress): Promise<void>;
  migration(): Promise<MigrationProgress>;
  cancelMigration(): Promise<void>;
  /** Target side: where the source sends the VM state (only for `incoming` launches). */
  incomingAddress(): MigrationAddress | undefined;
  onEvent(listener: (event: ProcessEvent) => void): () => void;
  /** Lets go of the process without stopping it (the agent stops; a later agent re-adopts it). */
  detach(): void;
}

export interface ConsoleChunk {
  /** UTF-8 text (invalid sequences replaced). */
  readonly data: string;
  /** Byte offset `data` starts at. */
  readonly offset: number;
  /** Offset to ask for next. */
  readonly next: number;
  /** Total bytes logged so far. */
  readonly size: number;
}

export interface HypervisorDriver {
  readonly kind: 'qemu' | 'fake';
  /** The accelerator new processes get. */
  readonly accel: string;
  launch(spec: LaunchSpec): Promise<VmProcess>;
  /** The running process of `vmId` left by an earlier agent (pid file + QMP), if any. */
  adopt(vmId: string): Promise<VmProcess | undefined>;
  /** VM ids with a process or leftovers (run files) on this host. */
  list(): Promise<string[]>;
  /** Removes a VM's run files once it has no process (the console log is kept unless `console`). */
  cleanup(vmId: string, options?: { readonly console?: boolean }): Promise<void>;
  /** Up to `maxBytes` of the VM's serial console log from `offset` (-1 = the last maxBytes). */
  console(vmId: string, offset: number, maxBytes: number): Promise<ConsoleChunk>;
  /** Detaches from every process (they keep running) and frees the driver's own resources. */
  close(): Promise<void>;
}
