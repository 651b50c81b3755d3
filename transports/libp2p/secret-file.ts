// Files that hold secrets (the node's private key, the cluster key): created once, atomically and
// readable by the owner only, and refused on load when anyone else could have read them — a key
// others could read may already be in someone else's hands.
import { constants } from 'node:fs';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Env } from '../../runtime/env/env.ts';
import { UltraError } from '../../runtime/errors.ts';

/** Owner read/write only. */
const SECRET_FILE_MODE = 0o600;
const SECRET_DIR_MODE = 0o700;
/** Any permission bit for group or others. */
const SHARED_BITS = 0o077;

/**
 * Writes `bytes` to `path` unless a file is already there. Returns false (and writes nothing) when
 * one is, so two processes racing to create the same secret both end up using the same one.
 * File-system failures are FailedPrecondition naming `what` and the path.
 */
export async function createSecretFile(path: string, bytes: Uint8Array, what: string, env: Env): Promise<boolean> {
  try {
    return await create(path, bytes, env);
  } catch (error) {
    throw fileSystemFailure(error, `cannot create ${what} at ${path}`);
  }
}

async function create(path: string, bytes: Uint8Array, env: Env): Promise<boolean> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: SECRET_DIR_MODE });
  // Written whole under a private name, synced, then linked into place: the final name never
  // shows a partial key, and link (unlike rename) fails instead of replacing a file that exists.
  const temporary = `${path}.${env.newId()}.tmp`;
  const handle = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, SECRET_FILE_MODE);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temporary);
  }
  await syncDirectory(dir);
  return true;
}

/**
 * The contents of the secret file at `path`; NotFound when there is none, FailedPrecondition
 * when it is not a regular file or group or others have any access to it.
 */
export async function readSecretFile(path: string, what: string): Promise<Uint8Array> {
  let mode: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new UltraError('FailedPrecondition', `${what} ${path} is not a regular file`);
    mode = info.mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UltraError('NotFound', `no ${what} at ${path}`);
    throw fileSystemFailure(error, `cannot read ${what} ${path}`);
  }
  if ((mode & SHARED_BITS) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(3, '0');
    throw new UltraError(
      'FailedPrecondition',
      `${what} ${path} has mode ${octal}, so users other than its owner can access it; run \`chmod 600 ${path}\` if it was not exposed, or replace it`,
    );
  }
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    throw fileSystemFailure(error, `cannot read ${what} ${path}`);
  }
}

function fileSystemFailure(error: unknown, doing: string): UltraError {
  if (error instanceof UltraError) return error;
  return new UltraError('FailedPrecondition', `${doing}: ${error instanceof Error ? error.message : String(error)}`);
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the new directory entry durable, so a crash right after creation cannot lose the key
  // that the node has already started to use.
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
