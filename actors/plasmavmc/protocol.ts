// The messages between plasmavmc's actors: the per-node agent (and the VM actors under it), and
// the interfaces through which they find each other and prismnet's ports.
import type { ActorRef, Query } from '../../runtime/actors/index.ts';
import type { ConsoleChunk, MigrationAddress, ProcessEvent } from '../../hostdrivers/kvm/driver.ts';
import type { PortView, TenantScope } from '../prismnet/client/network-ports.ts';
import type { VmRecord } from './core/model.ts';

/** The receptionist service agents register under. */
export const AGENT_SERVICE = 'plasmavmc-agent';

export interface AgentStatus {
  readonly node: string;
  readonly accel: string;
  readonly driver: string;
  /** VM actors on this node (VMs placed here or migrating here). */
  readonly vms: number;
}

/** A migration target's copy: none, still receiving, or complete (paused, waiting to be resumed). */
export type IncomingStatus = 'none' | 'receiving' | 'complete';

export type AgentMsg =
  /** A VM record changed (from the table's change feed); undefined = deleted. */
  | { readonly type: 'vm-changed'; readonly key: string; readonly record: VmRecord | undefined }
  /** Re-list everything (the feed may have missed changes, or the periodic pass). */
  | { readonly type: 'resync' }
  | { readonly type: 'heartbeat' }
  /** A VM actor ended (its VM left this node). */
  | { readonly type: 'vm-actor-done'; readonly key: string; readonly ref: ActorRef<VmMsg> }
  /** Migration target: start an incoming QEMU for the VM and say where to send it. */
  | ({ readonly type: 'prepare-incoming'; readonly key: string; readonly migrationId: string } & Query<MigrationAddress>)
  /** Migration source → target: the migration committed (resume your copy) or aborted (drop it). */
  | ({ readonly type: 'finish-incoming'; readonly key: string; readonly migrationId: string; readonly outcome: 'commit' | 'abort' } & Query<null>)
  /** Migration source → target: did the VM state arrive complete? */
  | ({ readonly type: 'incoming-status'; readonly key: string; readonly migrationId: string } & Query<IncomingStatus>)
  | ({ readonly type: 'reboot'; readonly key: string } & Query<null>)
  | ({ readonly type: 'console'; readonly vmId: string; readonly offset: number; readonly maxBytes: number } & Query<ConsoleChunk>)
  | ({ readonly type: 'status' } & Query<AgentStatus>);

export type VmMsg =
  | { readonly type: 'record'; readonly record: VmRecord | undefined }
  | { readonly type: 'process-event'; readonly event: ProcessEvent; readonly pid: number }
  | { readonly type: 'tick' }
  | ({ readonly type: 'reboot' } & Query<null>)
  | ({ readonly type: 'prepare-incoming'; readonly migrationId: string } & Query<MigrationAddress>)
  | ({ readonly type: 'finish-incoming'; readonly migrationId: string; readonly outcome: 'commit' | 'abort' } & Query<null>)
  | ({ readonly type: 'incoming-status'; readonly migrationId: string } & Query<IncomingStatus>);

/** Finds the agent of a node (through the receptionist on a real node; a registry in the simulator). */
export interface AgentDirectory {
  agent(node: string): ActorRef<AgentMsg> | undefined;
}

/**
 * Finds the ports a device owns. Not part of prismnet's NetworkPorts contract yet: with it,
 * a port created just before a crash (and never recorded on the VM) is found and reused or
 * deleted; without it such a port can be left behind (see docs/plasmavmc.md).
 */
export type DevicePortLookup = (scope: TenantScope, deviceOwner: string, deviceId: string) => Promise<PortView[]>;

/** What prismnet's ports carry as their owner. */
export const DEVICE_OWNER = 'compute:vm';
