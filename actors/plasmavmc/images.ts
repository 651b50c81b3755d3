// Looking at an image before it is registered: its checksum must match what the caller claims,
// and its format is what qemu-img detects (qcow2 or raw, nothing with a backing file). The
// inspector is an interface so the simulator can register images without files.
import { stat } from 'node:fs/promises';
import type { Env } from '../../runtime/env/env.ts';
import { UltraError } from '../../runtime/errors.ts';
import { imageInfo } from '../../hostdrivers/kvm/qemu-img.ts';
import { IMAGE_FORMATS, type ImageFormat } from './core/model.ts';
import { sha256File } from './volumes.ts';

export interface InspectedImage {
  readonly format: ImageFormat;
  readonly sizeBytes: number;
  readonly virtualSizeBytes: number;
  readonly checksum: string;
}

export interface ImageInspector {
  /** Checks the file at `path` against `checksum` (and `format` when given); InvalidArgument on any mismatch. */
  inspect(path: string, checksum: string, format?: string): Promise<InspectedImage>;
}

export class QemuImageInspector implements ImageInspector {
  async inspect(path: string, checksum: string, format?: string): Promise<InspectedImage> {
    let sizeBytes: number;
    try {
      const s = await stat(path);
      if (!s.isFile()) throw new UltraError('InvalidArgument', `image source ${path} is not a regular file`);
      sizeBytes = s.size;
    } catch (error) {
      if (error instanceof UltraError) throw error;
      throw new UltraError('InvalidArgument', `image source ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}); give a path readable by the node`);
    }
    const actual = await sha256File(path);
    if (actual !== checksum) throw new UltraError('InvalidArgument', `checksum mismatch for ${path}: the file is ${actual}, the request says ${checksum}`);
    const info = await imageInfo(path);
    if (!(IMAGE_FORMATS as readonly string[]).includes(info.format)) throw new UltraError('InvalidArgument', `${path} is a ${info.format} image; only ${IMAGE_FORMATS.join(' and ')} are supported (convert it with qemu-img convert)`);
    if (info.backingFile !== undefined) throw new UltraError('InvalidArgument', `${path} has a backing file (${info.backingFile}); register a self-contained image`);
    if (format !== undefined && format !== info.format) throw new UltraError('InvalidArgument', `${path} is ${info.format}, not ${format} as the request says`);
    return { format: info.format as ImageFormat, sizeBytes, virtualSizeBytes: info.virtualSizeBytes, checksum };
  }
}

/** Images the simulator and tests know by path, answered after a latency on the caller's Env. */
export class FakeImageInspector implements ImageInspector {
  readonly files = new Map<string, InspectedImage>();
  readonly #env: Env | undefined;

  constructor(env?: Env) {
    this.#env = env;
  }

  inspect(path: string, checksum: string, format?: string): Promise<InspectedImage> {
    const answer = (): InspectedImage => {
      const file = this.files.get(path);
      if (file === undefined) throw new UltraError('InvalidArgument', `image source ${path} cannot be read (ENOENT); give a path readable by the node`);
      if (file.checksum !== checksum) throw new UltraError('InvalidArgument', `checksum mismatch for ${path}: the file is ${file.checksum}, the request says ${checksum}`);
      if (format !== undefined && format !== file.format) throw new UltraError('InvalidArgument', `${path} is ${file.format}, not ${format} as the request says`);
      return file;
    };
    if (this.#env === undefined) {
      try {
        return Promise.resolve(answer());
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
    const env = this.#env;
    return new Promise((resolve, reject) =>
      env.setTimer(1, () => {
        try {
          resolve(answer());
        } catch (error) {
          reject(error as Error);
        }
      }),
    );
  }
}
