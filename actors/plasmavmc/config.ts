// plasmavmc's settings in the node config (`settings.plasmavmc` in node.json), validated at start.
// Everything has a default: with no settings a node is a worker with the QEMU driver (KVM when
// /dev/kvm is usable, TCG otherwise), capacity = its CPUs and its memory less 1 GiB, local qcow2
// volumes under <dataDir>/plasmavmc/volumes.
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { settingsParser } from '../../runtime/node/component-settings.ts';
import { UltraError } from '../../runtime/errors.ts';
import type { AccelSetting } from '../../hostdrivers/kvm/qemu-driver.ts';
import type { Timing } from './plasmavmc.ts';

const Ms = Type.Integer({ minimum: 1, maximum: 3_600_000 });
/** `<runDir>/<36-character VM id>/mig-out.sock` must fit Linux's 107-byte socket paths. */
export const MAX_RUN_DIR = 57;

export const PlasmavmcSettingsSchema = Type.Object(
  {
    /** Host VMs on this node (default true); false = API and controller only. */
    worker: Type.Optional(Type.Boolean()),
    /** The hypervisor driver: qemu (default), or fake (in memory: simulator, tests, demos without QEMU). */
    driver: Type.Optional(Type.Union([Type.Literal('qemu'), Type.Literal('fake')])),
    /** auto (default): kvm when /dev/kvm is usable, else tcg. Pin tcg where /dev/kvm exists but nested KVM does not work. */
    accel: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('kvm'), Type.Literal('tcg')])),
    /** What this worker offers to VMs (default: its CPUs, its memory less 1 GiB). */
    capacity: Type.Optional(Type.Object({ vcpus: Type.Integer({ minimum: 1, maximum: 4096 }), memoryMiB: Type.Integer({ minimum: 64 }) }, { additionalProperties: false })),
    /** QMP sockets, pid files, console logs (default <dataDir>/plasmavmc/run; socket paths must stay under 108 bytes). */
    runDir: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_RUN_DIR })),
    volumes: Type.Optional(
      Type.Object(
        {
          /** Where qcow2 volumes and the image cache live (default <dataDir>/plasmavmc/volumes). */
          dir: Type.Optional(Type.String({ minLength: 1 })),
          /** The directory is on storage every worker mounts at the same path (enables live migration and evacuation). */
          shared: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    /** The address other workers reach this one on for live migration (default: the node's API host). */
    migrationHost: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    timing: Type.Optional(
      Type.Object(
        {
          heartbeatMs: Type.Optional(Ms),
          leaseMs: Type.Optional(Ms),
          passMs: Type.Optional(Ms),
          resyncMs: Type.Optional(Ms),
          powerdownTimeoutMs: Type.Optional(Ms),
          migrationTimeoutMs: Type.Optional(Ms),
          migrationPollMs: Type.Optional(Ms),
          retryMs: Type.Optional(Ms),
          askTimeoutMs: Type.Optional(Ms),
          reservationGraceMs: Type.Optional(Ms),
          claimGraceMs: Type.Optional(Ms),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export interface PlasmavmcConfig {
  readonly worker: boolean;
  readonly driver: 'qemu' | 'fake';
  readonly accel: AccelSetting;
  readonly capacity: { readonly vcpus: number; readonly memoryMiB: number };
  readonly runDir: string;
  readonly volumesDir: string;
  readonly sharedVolumes: boolean;
  readonly migrationHost: string;
  readonly timing: Partial<Timing>;
}

const checkSettings = settingsParser('plasmavmc', PlasmavmcSettingsSchema);

export function parsePlasmavmcSettings(value: unknown, dataDir: string, host: string): PlasmavmcConfig {
  const s = checkSettings(value);
  const timing = s.timing ?? {};
  if (timing.heartbeatMs !== undefined && timing.leaseMs !== undefined && timing.leaseMs < 3 * timing.heartbeatMs) {
    throw new UltraError('InvalidArgument', `settings.plasmavmc.timing.leaseMs (${timing.leaseMs}) must be at least 3 heartbeats (${3 * timing.heartbeatMs}) so one late heartbeat does not lose a worker`);
  }
  const runDir = s.runDir ?? join(dataDir, 'plasmavmc', 'run');
  if (runDir.length > MAX_RUN_DIR) {
    throw new UltraError('InvalidArgument', `plasmavmc's run directory ${runDir} is ${runDir.length} characters; QMP socket paths under it would pass Linux's limit. Set settings.plasmavmc.runDir to a path of at most ${MAX_RUN_DIR} characters (e.g. /run/ultracloud-vms)`);
  }
  return {
    worker: s.worker ?? true,
    driver: s.driver ?? 'qemu',
    accel: s.accel ?? 'auto',
    capacity: s.capacity ?? { vcpus: cpus().length, memoryMiB: Math.max(64, Math.floor(totalmem() / (1024 * 1024)) - 1024) },
    runDir,
    volumesDir: s.volumes?.dir ?? join(dataDir, 'plasmavmc', 'volumes'),
    sharedVolumes: s.volumes?.shared ?? false,
    migrationHost: s.migrationHost ?? host,
    timing,
  };
}
