// The cloud-init NoCloud config drive: a small FAT image labelled CIDATA holding `meta-data`
// (instance id, hostname, plasmavmc metadata) and `user-data`, attached read-only to the guest.
// Built with mkfs.vfat and mcopy (dosfstools, mtools): no loop mount, no root needed.
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { UltraError } from '../../runtime/errors.ts';

export interface CloudInitData {
  readonly instanceId: string;
  readonly hostname: string;
  readonly userData?: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** NoCloud's meta-data document (YAML; values are quoted JSON strings, which YAML accepts). */
export function metaDataDocument(data: CloudInitData): string {
  const lines = [`instance-id: ${JSON.stringify(data.instanceId)}`, `local-hostname: ${JSON.stringify(data.hostname)}`];
  const keys = Object.keys(data.metadata).sort();
  if (keys.length > 0) {
    lines.push('meta:');
    for (const key of keys) lines.push(`  ${key}: ${JSON.stringify(data.metadata[key])}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the config drive to `path` (atomically: built beside it, then renamed). */
export async function buildConfigDrive(path: string, data: CloudInitData): Promise<void> {
  const work = await mkdtemp(join(dirname(path), '.seed-'));
  try {
    const image = join(work, 'seed.img');
    await writeFile(join(work, 'meta-data'), metaDataDocument(data));
    await writeFile(join(work, 'user-data'), data.userData ?? '');
    // 1 MiB: the user data is at most 64 KiB; FAT12 is the smallest filesystem every guest reads.
    await run('mkfs.vfat', ['-n', 'CIDATA', '-C', image, '1024'], 'dosfstools');
    await run('mcopy', ['-i', image, join(work, 'meta-data'), join(work, 'user-data'), '::'], 'mtools');
    await rename(image, path);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function run(tool: string, args: string[], pkg: string): Promise<void> {
  const result = await execa(tool, args, { reject: false, env: { MTOOLS_SKIP_CHECK: '1' } });
  if (result.failed) {
    const missing = (result as { code?: string }).code === 'ENOENT';
    throw new UltraError('FailedPrecondition', missing ? `${tool} is not installed: apt-get install ${pkg}` : `${tool} failed (${result.exitCode}): ${String(result.stderr).slice(0, 500)}`);
  }
}
