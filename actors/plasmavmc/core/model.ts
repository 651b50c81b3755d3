// plasmavmc's resources as stored in flaredb (one schema each, checked on every read and write by
// MetadataTable) and the bounds on every field. Records are keyed `<org>/<project>/<id>` so a
// project's resources list by prefix; workers are keyed by node id.
import { Type, type Static } from '@sinclair/typebox';
import { VM_STATES } from './lifecycle.ts';

export const NAMESPACE = 'plasmavmc';

export const LIMITS = {
  maxVcpus: 64,
  minMemoryMiB: 64,
  maxMemoryMiB: 1024 * 1024,
  maxNics: 8,
  maxDataVolumes: 8,
  maxVolumeGiB: 16 * 1024,
  maxUserDataBytes: 64 * 1024,
  maxMetadataEntries: 32,
  maxMetadataValueBytes: 1024,
  maxNameLength: 63,
  maxEventsPerVm: 20,
} as const;

export const NAME_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';
const Name = Type.String({ pattern: NAME_PATTERN });
const Id = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$' });
const Checksum = Type.String({ pattern: '^sha256:[0-9a-f]{64}$' });
const Millis = Type.Number({ minimum: 0 });
const ErrorInfo = Type.Object({ code: Type.String(), message: Type.String(), at: Millis }, { additionalProperties: false });

// ── Images ──────────────────────────────────────────────────────────────────

export const IMAGE_FORMATS = ['qcow2', 'raw'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

export const ImageRecordSchema = Type.Object(
  {
    id: Id,
    org: Type.String(),
    project: Type.String(),
    name: Name,
    /** Absolute path on the workers (a file:// URL is stored as its path). */
    sourcePath: Type.String({ minLength: 1, maxLength: 4096 }),
    format: Type.Union(IMAGE_FORMATS.map((f) => Type.Literal(f))),
    checksum: Checksum,
    sizeBytes: Type.Integer({ minimum: 0 }),
    virtualSizeBytes: Type.Integer({ minimum: 0 }),
    createdAt: Millis,
  },
  { additionalProperties: false },
);
export type ImageRecord = Static<typeof ImageRecordSchema>;

// ── VMs ─────────────────────────────────────────────────────────────────────

export const NicSpecSchema = Type.Union([
  Type.Object({ subnetId: Type.String({ minLength: 1, maxLength: 255 }), fixedIp: Type.Optional(Type.String({ maxLength: 64 })), securityGroups: Type.Optional(Type.Array(Type.String({ maxLength: 255 }), { maxItems: 16 })) }, { additionalProperties: false }),
  Type.Object({ portId: Type.String({ minLength: 1, maxLength: 255 }) }, { additionalProperties: false }),
]);
export type NicSpec = Static<typeof NicSpecSchema>;

export const VmSpecSchema = Type.Object(
  {
    vcpus: Type.Integer({ minimum: 1, maximum: LIMITS.maxVcpus }),
    memoryMiB: Type.Integer({ minimum: LIMITS.minMemoryMiB, maximum: LIMITS.maxMemoryMiB }),
    imageId: Id,
    /** Grows the root disk to this size (never shrinks below the image's virtual size). */
    rootDiskGiB: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.maxVolumeGiB })),
    dataVolumesGiB: Type.Array(Type.Integer({ minimum: 1, maximum: LIMITS.maxVolumeGiB }), { maxItems: LIMITS.maxDataVolumes }),
    nics: Type.Array(NicSpecSchema, { maxItems: LIMITS.maxNics }),
    /** cloud-init user data (UTF-8 text), served to the guest on a NoCloud config drive. */
    userData: Type.Optional(Type.String({ maxLength: LIMITS.maxUserDataBytes })),
    metadata: Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,63}$' }), Type.String({ maxLength: LIMITS.maxMetadataValueBytes })),
    /** VMs of one project sharing a group never share a worker. */
    antiAffinityGroup: Type.Optional(Name),
  },
  { additionalProperties: false },
);
export type VmSpec = Static<typeof VmSpecSchema>;

export const NicStateSchema = Type.Object(
  {
    subnetId: Type.Optional(Type.String()),
    portId: Type.Optional(Type.String()),
    /** plasmavmc created the port (and deletes it with the VM); false for ports the user passed. */
    owned: Type.Boolean(),
    mac: Type.Optional(Type.String()),
    ip: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type NicState = Static<typeof NicStateSchema>;

export const VolumeStateSchema = Type.Object(
  {
    id: Id,
    role: Type.Union([Type.Literal('root'), Type.Literal('data')]),
    sizeGiB: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
export type VolumeState = Static<typeof VolumeStateSchema>;

export const MigrationSchema = Type.Object(
  {
    id: Id,
    source: Type.String(),
    target: Type.String(),
    startedAt: Millis,
  },
  { additionalProperties: false },
);
export type Migration = Static<typeof MigrationSchema>;

export const VmEventSchema = Type.Object({ at: Millis, state: Type.Union(VM_STATES.map((s) => Type.Literal(s))), message: Type.String({ maxLength: 512 }) }, { additionalProperties: false });
export type VmEventRecord = Static<typeof VmEventSchema>;

export const VmRecordSchema = Type.Object(
  {
    id: Id,
    org: Type.String(),
    project: Type.String(),
    name: Name,
    spec: VmSpecSchema,
    desired: Type.Union([Type.Literal('running'), Type.Literal('stopped'), Type.Literal('deleted')]),
    state: Type.Union(VM_STATES.map((s) => Type.Literal(s))),
    /** The worker it is placed on; null before placement and after an evacuation. */
    node: Type.Union([Type.String(), Type.Null()]),
    /** Bumped at every placement: writes from an agent holding an older epoch are refused. */
    epoch: Type.Integer({ minimum: 0 }),
    nics: Type.Array(NicStateSchema, { maxItems: LIMITS.maxNics }),
    volumes: Type.Array(VolumeStateSchema, { maxItems: LIMITS.maxDataVolumes + 1 }),
    migration: Type.Optional(MigrationSchema),
    /** Set by the agent once a deleting VM's process, local disks and port bindings are gone. */
    nodeCleaned: Type.Optional(Type.Boolean()),
    error: Type.Optional(ErrorInfo),
    /** The process the agent runs it as (informational). */
    observed: Type.Optional(Type.Object({ node: Type.String(), pid: Type.Integer(), accel: Type.String(), since: Millis }, { additionalProperties: false })),
    /** The last state changes, newest last (bounded). */
    events: Type.Array(VmEventSchema, { maxItems: LIMITS.maxEventsPerVm }),
    createdAt: Millis,
    updatedAt: Millis,
  },
  { additionalProperties: false },
);
export type VmRecord = Static<typeof VmRecordSchema>;

// ── Workers ─────────────────────────────────────────────────────────────────

export const ReservationSchema = Type.Object(
  {
    vcpus: Type.Integer({ minimum: 0 }),
    memoryMiB: Type.Integer({ minimum: 0 }),
    /** `<org>/<project>/<group>` for anti-affinity. */
    group: Type.Optional(Type.String()),
    at: Millis,
    /** Renewed by every placement that relies on it: the reservation collector releases only what it saw orphaned, unchanged. */
    token: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type Reservation = Static<typeof ReservationSchema>;

export const WorkerRecordSchema = Type.Object(
  {
    node: Type.String(),
    capacity: Type.Object({ vcpus: Type.Integer({ minimum: 0 }), memoryMiB: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
    /** Keyed by the VM's record id. */
    reservations: Type.Record(Type.String(), ReservationSchema),
    /** Incremented by the agent every heartbeat; a controller that sees it stand still for the lease declares the worker lost. */
    beat: Type.Integer({ minimum: 0 }),
    /** Whether volumes on this worker's provider are reachable from every worker. */
    sharedStorage: Type.Boolean(),
    /** An operator declared the worker powered off: its VMs may be started elsewhere. */
    fenced: Type.Boolean(),
    /** The beat when it was fenced: a worker that heartbeats again since then has returned, and nothing is moved away from it. */
    fencedBeat: Type.Optional(Type.Integer({ minimum: 0 })),
    accel: Type.String(),
    registeredAt: Millis,
  },
  { additionalProperties: false },
);
export type WorkerRecord = Static<typeof WorkerRecordSchema>;

/** The flaredb record id of a project-scoped resource. */
export function scopedId(org: string, project: string, id: string): string {
  return `${org}/${project}/${id}`;
}

/** Appends a lifecycle event, keeping the newest LIMITS.maxEventsPerVm. */
export function withEvent(events: readonly VmEventRecord[], event: VmEventRecord): VmEventRecord[] {
  return [...events, { ...event, message: event.message.slice(0, 512) }].slice(-LIMITS.maxEventsPerVm);
}
