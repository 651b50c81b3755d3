// qemu-img, the disk image tool plasmavmc uses on workers: inspect an image (format, sizes,
// backing file) and create qcow2 volumes, either empty or as copy-on-write overlays on an image.
import { execa } from 'execa';
import { UltraError } from '../../runtime/errors.ts';

export interface ImageInfo {
  readonly format: string;
  readonly virtualSizeBytes: number;
  readonly actualSizeBytes?: number;
  readonly backingFile?: string;
}

async function qemuImg(args: string[]): Promise<string> {
  const result = await execa('qemu-img', args, { reject: false });
  if (!result.failed) return String(result.stdout);
  if ((result as { code?: string }).code === 'ENOENT') throw new UltraError('FailedPrecondition', 'qemu-img is not installed: apt-get install qemu-utils');
  throw new UltraError('InvalidArgument', `qemu-img ${args[0]} failed: ${String(result.stderr).trim().slice(-500)}`);
}

/** What qemu-img sees in `path`; `format` forces the format (no probing), as QEMU will open it. */
export async function imageInfo(path: string, format?: string): Promise<ImageInfo> {
  // -U: read even while a QEMU holds the image's lock.
  const json = JSON.parse(await qemuImg(['info', '-U', '--output=json', ...(format === undefined ? [] : ['-f', format]), path])) as {
    format?: string;
    'virtual-size'?: number;
    'actual-size'?: number;
    'backing-filename'?: string;
  };
  if (typeof json.format !== 'string' || typeof json['virtual-size'] !== 'number') throw new UltraError('Internal', `qemu-img info gave no format or size for ${path}`);
  return {
    format: json.format,
    virtualSizeBytes: json['virtual-size'],
    ...(json['actual-size'] === undefined ? {} : { actualSizeBytes: json['actual-size'] }),
    ...(json['backing-filename'] === undefined ? {} : { backingFile: json['backing-filename'] }),
  };
}

/** A qcow2 overlay at `path` on `backing` (of `backingFormat`), optionally grown to `sizeBytes`. */
export async function createOverlay(path: string, backing: string, backingFormat: string, sizeBytes?: number): Promise<void> {
  await qemuImg(['create', '-q', '-f', 'qcow2', '-F', backingFormat, '-b', backing, path, ...(sizeBytes === undefined ? [] : [String(sizeBytes)])]);
}

/** An empty qcow2 volume of `sizeBytes` at `path`. */
export async function createEmpty(path: string, sizeBytes: number): Promise<void> {
  await qemuImg(['create', '-q', '-f', 'qcow2', path, String(sizeBytes)]);
}
