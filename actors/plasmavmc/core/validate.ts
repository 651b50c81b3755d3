// Validation of what callers send: VM create requests (shape, bounds, user data, metadata) and
// image registrations. Pure; every refusal is an InvalidArgument that names the field and says
// what is accepted, and nothing is written before these pass.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { UltraError } from '../../../runtime/errors.ts';
import { LIMITS, NAME_PATTERN, NicSpecSchema, type VmSpec } from './model.ts';

export const CreateVmRequestSchema = Type.Object(
  {
    name: Type.String(),
    vcpus: Type.Integer(),
    memoryMiB: Type.Integer(),
    imageId: Type.String(),
    rootDiskGiB: Type.Optional(Type.Integer()),
    dataVolumesGiB: Type.Optional(Type.Array(Type.Integer())),
    nics: Type.Optional(Type.Array(NicSpecSchema)),
    userData: Type.Optional(Type.String()),
    metadata: Type.Optional(Type.Record(Type.String(), Type.String())),
    antiAffinityGroup: Type.Optional(Type.String()),
    /** Create it stopped (placed and disks made at the first start). */
    start: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CreateVmRequest = Static<typeof CreateVmRequestSchema>;

export const RegisterImageRequestSchema = Type.Object(
  {
    name: Type.String(),
    /** An absolute path or a file:// URL. */
    source: Type.String(),
    /** `sha256:<64 hex digits>` of the file. */
    checksum: Type.String(),
    /** Checked against what qemu-img detects; detected when absent. */
    format: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type RegisterImageRequest = Static<typeof RegisterImageRequestSchema>;

const compiled = new Map<TSchema, ReturnType<typeof TypeCompiler.Compile>>();

/** Checks `value` against `schema`; InvalidArgument listing the first problems. */
export function checkShape<S extends TSchema>(schema: S, value: unknown, what: string): Static<S> {
  let check = compiled.get(schema);
  if (check === undefined) compiled.set(schema, (check = TypeCompiler.Compile(schema)));
  if (value === undefined || value === null) throw new UltraError('InvalidArgument', `expected a JSON body: ${what}`);
  if (!check.Check(value)) {
    const problems = [...check.Errors(value)].slice(0, 3).map((e) => `${e.path || '/'}: ${e.message}`);
    throw new UltraError('InvalidArgument', `invalid ${what}: ${problems.join('; ')}`);
  }
  return value as Static<S>;
}

const NAME = new RegExp(NAME_PATTERN);

export function checkName(name: string, field = 'name'): string {
  if (!NAME.test(name)) throw new UltraError('InvalidArgument', `${field} '${name.slice(0, 80)}' is invalid: 1–63 lowercase letters, digits and '-', starting and ending with a letter or digit`);
  return name;
}

function checkRange(value: number, min: number, max: number, field: string, unit = ''): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new UltraError('InvalidArgument', `${field} must be a whole number from ${min} to ${max}${unit}, got ${value}`);
}

/**
 * The user data formats cloud-init's NoCloud datasource understands, by their first line. Anything
 * else would be ignored by the guest, so it is refused here instead.
 */
const USER_DATA_HEADERS = ['#cloud-config', '#!', '#include', '#cloud-boothook', '#upstart-job', '#part-handler', 'Content-Type: multipart/'] as const;

export function checkUserData(userData: string): string {
  const bytes = new TextEncoder().encode(userData).length;
  if (bytes > LIMITS.maxUserDataBytes) throw new UltraError('InvalidArgument', `userData is ${bytes} bytes; at most ${LIMITS.maxUserDataBytes} are served to the guest`);
  if (userData.includes('\u0000')) throw new UltraError('InvalidArgument', 'userData contains a NUL byte: send UTF-8 text (a #cloud-config document or a #! script)');
  if (!USER_DATA_HEADERS.some((h) => userData.startsWith(h))) {
    throw new UltraError('InvalidArgument', `userData must start with one of ${USER_DATA_HEADERS.map((h) => `'${h}'`).join(', ')} (cloud-init's formats); got '${userData.slice(0, 30).replace(/\n/g, '\\n')}'`);
  }
  if (userData.startsWith('#cloud-config')) checkCloudConfig(userData);
  return userData;
}

/**
 * A light structural check of a #cloud-config document: YAML forbids tabs in indentation, and a
 * top-level line must be a `key:` mapping entry (cloud-config is a mapping), a comment or a list
 * continuation. Enough to catch a JSON blob, a pasted script or a tab-indented file.
 */
function checkCloudConfig(text: string): void {
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^\s*\t/.test(line)) throw new UltraError('InvalidArgument', `userData line ${i + 1}: YAML does not allow tabs for indentation`);
    if (line.length === 0 || line.startsWith('#') || /^\s/.test(line) || line.startsWith('- ') || line === '---' || line === '...') continue;
    if (!/^[A-Za-z_][A-Za-z0-9_-]*\s*:(\s|$)/.test(line)) throw new UltraError('InvalidArgument', `userData line ${i + 1} is not a 'key:' entry of the #cloud-config mapping: '${line.slice(0, 60)}'`);
  }
}

export function checkMetadata(metadata: Readonly<Record<string, string>>): Record<string, string> {
  const entries = Object.entries(metadata);
  if (entries.length > LIMITS.maxMetadataEntries) throw new UltraError('InvalidArgument', `metadata has ${entries.length} entries; at most ${LIMITS.maxMetadataEntries}`);
  for (const [key, value] of entries) {
    if (!/^[A-Za-z0-9_.-]{1,63}$/.test(key)) throw new UltraError('InvalidArgument', `metadata key '${key.slice(0, 80)}' is invalid: 1–63 letters, digits and _.-`);
    if (new TextEncoder().encode(value).length > LIMITS.maxMetadataValueBytes) throw new UltraError('InvalidArgument', `metadata '${key}' is over ${LIMITS.maxMetadataValueBytes} bytes`);
    if (/[\u0000-\u001f]/.test(value)) throw new UltraError('InvalidArgument', `metadata '${key}' contains control characters; values are one line of text`);
  }
  return Object.fromEntries(entries);
}

/** The VM spec of a create request (shape and every bound checked). */
export function vmSpecOf(request: CreateVmRequest): VmSpec {
  checkName(request.name);
  checkRange(request.vcpus, 1, LIMITS.maxVcpus, 'vcpus');
  checkRange(request.memoryMiB, LIMITS.minMemoryMiB, LIMITS.maxMemoryMiB, 'memoryMiB', ' MiB');
  if (request.imageId.length === 0) throw new UltraError('InvalidArgument', 'imageId is required: register an image first (`ultracloud image register`)');
  if (request.rootDiskGiB !== undefined) checkRange(request.rootDiskGiB, 1, LIMITS.maxVolumeGiB, 'rootDiskGiB', ' GiB');
  const data = request.dataVolumesGiB ?? [];
  if (data.length > LIMITS.maxDataVolumes) throw new UltraError('InvalidArgument', `at most ${LIMITS.maxDataVolumes} data volumes, got ${data.length}`);
  data.forEach((g, i) => checkRange(g, 1, LIMITS.maxVolumeGiB, `dataVolumesGiB[${i}]`, ' GiB'));
  const nics = request.nics ?? [];
  if (nics.length > LIMITS.maxNics) throw new UltraError('InvalidArgument', `at most ${LIMITS.maxNics} NICs, got ${nics.length}`);
  const ports = nics.flatMap((n) => ('portId' in n ? [n.portId] : []));
  if (new Set(ports).size !== ports.length) throw new UltraError('InvalidArgument', 'a port can back only one NIC');
  if (request.antiAffinityGroup !== undefined) checkName(request.antiAffinityGroup, 'antiAffinityGroup');
  return {
    vcpus: request.vcpus,
    memoryMiB: request.memoryMiB,
    imageId: request.imageId,
    ...(request.rootDiskGiB === undefined ? {} : { rootDiskGiB: request.rootDiskGiB }),
    dataVolumesGiB: [...data],
    nics: nics.map((n) => ({ ...n })),
    ...(request.userData === undefined ? {} : { userData: checkUserData(request.userData) }),
    metadata: checkMetadata(request.metadata ?? {}),
    ...(request.antiAffinityGroup === undefined ? {} : { antiAffinityGroup: request.antiAffinityGroup }),
  };
}

/** The absolute path an image source names: `/abs/path` or `file:///abs/path`. */
export function imageSourcePath(source: string): string {
  let path = source;
  if (source.startsWith('file:')) {
    let url: URL;
    try {
      url = new URL(source);
    } catch {
      throw new UltraError('InvalidArgument', `source '${source.slice(0, 200)}' is not a valid file:// URL`);
    }
    if (url.host !== '' && url.host !== 'localhost') throw new UltraError('InvalidArgument', `source '${source.slice(0, 200)}' names host '${url.host}'; file:// URLs must be local (file:///path)`);
    path = decodeURIComponent(url.pathname);
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
    throw new UltraError('InvalidArgument', `source scheme of '${source.slice(0, 200)}' is not supported: give an absolute path or a file:// URL (lightningstor sources come later)`);
  }
  if (!path.startsWith('/')) throw new UltraError('InvalidArgument', `source '${source.slice(0, 200)}' must be an absolute path or a file:// URL`);
  if (path.split('/').includes('..')) throw new UltraError('InvalidArgument', `source '${source.slice(0, 200)}' must not contain '..'`);
  return path;
}

export function checkChecksum(checksum: string): string {
  if (!/^sha256:[0-9a-f]{64}$/.test(checksum)) throw new UltraError('InvalidArgument', `checksum must be 'sha256:' followed by 64 lowercase hex digits (sha256sum's output), got '${checksum.slice(0, 80)}'`);
  return checksum;
}
