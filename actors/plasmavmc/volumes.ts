// Where VM disks come from: the VolumeProvider interface (coronafs will implement it for shared
// network volumes), the local qcow2 provider (overlays on a per-node image cache, `qemu-img`), and
// the fake the simulator and actor tests use. Volume ids are chosen by the controller and recorded
// before a volume is made, so making one is idempotent and a crash never leaves one unknown.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Env } from '../../runtime/env/env.ts';
import { UltraError } from '../../runtime/errors.ts';
import type { DiskSpec } from '../../hostdrivers/kvm/driver.ts';
import { createEmpty, createOverlay, imageInfo } from '../../hostdrivers/kvm/qemu-img.ts';
import type { ImageRecord } from './core/model.ts';

const GiB = 1024 * 1024 * 1024;

export interface VolumeProvider {
  /** Volumes are reachable from every worker (live migration and evacuation need this). */
  readonly shared: boolean;
  /** Makes the root volume, a copy-on-write overlay on the image, unless it exists. */
  ensureRoot(volumeId: string, image: ImageRecord, sizeGiB?: number): Promise<DiskSpec>;
  /** Makes an empty data volume unless it exists. */
  ensureData(volumeId: string, sizeGiB: number): Promise<DiskSpec>;
  /** Deletes the volume; deleting one that is gone succeeds. */
  delete(volumeId: string): Promise<void>;
  /** The volume ids this provider holds (for cleanup and checks). */
  list(): Promise<string[]>;
}

const VOLUME_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Volume ids are `<vmId>-root` and `<vmId>-data<i>` (chosen at create): the VM a volume belongs to. */
export function volumeOwner(volumeId: string): string {
  return volumeId.replace(/-(root|data\d+)$/, '');
}

function checkVolumeId(id: string): void {
  if (!VOLUME_ID.test(id)) throw new UltraError('InvalidArgument', `volume id '${id.slice(0, 80)}' is not a valid file name`);
}

/** Temporary file names unique across processes (pid) and within one (several workers in a test process). */
let tmpSeq = 0;
function tmpName(path: string): string {
  return `${path}.${process.pid}.${++tmpSeq}.tmp`;
}

/** sha256 of a file as `sha256:<hex>`, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

export interface LocalVolumesOptions {
  /** Where volumes (and the image cache, under `images/`) live. */
  readonly dir: string;
  /** Set when `dir` is on storage every worker mounts at the same path. */
  readonly shared: boolean;
}

/**
 * qcow2 volumes in a directory. Images are copied into `<dir>/images` on first use and verified
 * against their registered checksum while copying, so an overlay never rests on a file that
 * changed after registration.
 */
export class LocalQcow2Volumes implements VolumeProvider {
  readonly shared: boolean;
  readonly #dir: string;
  readonly #imagesDir: string;
  readonly #caching = new Map<string, Promise<string>>();

  constructor(options: LocalVolumesOptions) {
    this.shared = options.shared;
    this.#dir = options.dir;
    this.#imagesDir = join(options.dir, 'images');
  }

  async ensureRoot(volumeId: string, image: ImageRecord, sizeGiB?: number): Promise<DiskSpec> {
    checkVolumeId(volumeId);
    const path = this.#path(volumeId);
    if (!existsSync(path)) {
      const base = await this.#cachedImage(image);
      const grow = sizeGiB !== undefined && sizeGiB * GiB > image.virtualSizeBytes ? sizeGiB * GiB : undefined;
      await this.#atomically(path, (tmp) => createOverlay(tmp, base, image.format, grow));
    }
    return { path, format: 'qcow2', serial: volumeId.slice(0, 20) };
  }

  async ensureData(volumeId: string, sizeGiB: number): Promise<DiskSpec> {
    checkVolumeId(volumeId);
    const path = this.#path(volumeId);
    if (!existsSync(path)) await this.#atomically(path, (tmp) => createEmpty(tmp, sizeGiB * GiB));
    return { path, format: 'qcow2', serial: volumeId.slice(0, 20) };
  }

  async delete(volumeId: string): Promise<void> {
    checkVolumeId(volumeId);
    await rm(this.#path(volumeId), { force: true });
  }

  async list(): Promise<string[]> {
    try {
      return (await readdir(this.#dir)).filter((f) => f.endsWith('.qcow2')).map((f) => f.slice(0, -'.qcow2'.length)).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  #path(volumeId: string): string {
    return join(this.#dir, `${volumeId}.qcow2`);
  }

  async #atomically(path: string, make: (tmp: string) => Promise<void>): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    const tmp = tmpName(path);
    try {
      await make(tmp);
      await rename(tmp, path);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** The image's local copy, made (and verified) once per image. */
  #cachedImage(image: ImageRecord): Promise<string> {
    const path = join(this.#imagesDir, `${image.checksum.slice('sha256:'.length)}.${image.format}`);
    let pending = this.#caching.get(path);
    if (pending === undefined) {
      pending = this.#cache(image, path).finally(() => this.#caching.delete(path));
      this.#caching.set(path, pending);
    }
    return pending;
  }

  async #cache(image: ImageRecord, path: string): Promise<string> {
    const verified = `${path}.verified`;
    if (existsSync(path) && existsSync(verified) && (await readFile(verified, 'utf8')).trim() === image.checksum) return path;
    await mkdir(this.#imagesDir, { recursive: true });
    const tmp = tmpName(path);
    try {
      await copyFile(image.sourcePath, tmp);
      const checksum = await sha256File(tmp);
      if (checksum !== image.checksum) {
        throw new UltraError('FailedPrecondition', `image ${image.name} at ${image.sourcePath} changed since it was registered (checksum ${checksum}, registered ${image.checksum}); register it again`);
      }
      const info = await imageInfo(tmp, image.format);
      if (info.backingFile !== undefined) throw new UltraError('FailedPrecondition', `image ${image.name} has a backing file (${info.backingFile}); register a self-contained image (qemu-img convert)`);
      await rename(tmp, path);
      await writeFile(verified, `${image.checksum}\n`);
      return path;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UltraError('FailedPrecondition', `image ${image.name}'s file ${image.sourcePath} is missing on this worker; images must be at the same path on every worker`);
      throw error;
    } finally {
      await rm(tmp, { force: true });
    }
  }
}

/** Ground truth of the fake volumes: which volume exists where (`*` = shared storage). */
export class FakeVolumeStore {
  readonly volumes = new Map<string, { readonly location: string; readonly kind: 'root' | 'data' }>();
}

/** Fake volumes on `node` (or on shared storage), answering after a latency on the agent's Env. */
export class FakeVolumes implements VolumeProvider {
  readonly shared: boolean;
  readonly #store: FakeVolumeStore;
  readonly #location: string;
  readonly #env: Env;
  readonly #latencyMs: number;

  constructor(store: FakeVolumeStore, options: { readonly node: string; readonly shared: boolean; readonly env: Env; readonly latencyMs?: number }) {
    this.#store = store;
    this.shared = options.shared;
    this.#location = options.shared ? '*' : options.node;
    this.#env = options.env;
    this.#latencyMs = options.latencyMs ?? 2;
  }

  ensureRoot(volumeId: string): Promise<DiskSpec> {
    return this.#call(() => this.#ensure(volumeId, 'root'));
  }

  ensureData(volumeId: string): Promise<DiskSpec> {
    return this.#call(() => this.#ensure(volumeId, 'data'));
  }

  delete(volumeId: string): Promise<void> {
    return this.#call(() => {
      const v = this.#store.volumes.get(volumeId);
      if (v !== undefined && v.location === this.#location) this.#store.volumes.delete(volumeId);
    });
  }

  list(): Promise<string[]> {
    return this.#call(() => [...this.#store.volumes].filter(([, v]) => v.location === this.#location).map(([id]) => id).sort());
  }

  #ensure(volumeId: string, kind: 'root' | 'data'): DiskSpec {
    checkVolumeId(volumeId);
    const existing = this.#store.volumes.get(volumeId);
    if (existing !== undefined && existing.location !== this.#location) throw new UltraError('FailedPrecondition', `volume ${volumeId} lives on ${existing.location}, not here (${this.#location})`);
    if (existing === undefined) this.#store.volumes.set(volumeId, { location: this.#location, kind });
    return { path: `/fake/${this.#location}/${volumeId}.qcow2`, format: 'qcow2' };
  }

  #call<T>(effect: () => T): Promise<T> {
    const half = this.#latencyMs / 2;
    return new Promise<T>((resolve, reject) => {
      this.#env.setTimer(half, () => {
        try {
          const result = effect();
          this.#env.setTimer(half, () => resolve(result));
        } catch (error) {
          this.#env.setTimer(half, () => reject(error as Error));
        }
      });
    });
  }
}
