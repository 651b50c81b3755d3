// One running node per data directory: a lock file holding the owner's pid. A second start on
// the same directory is refused (instead of two processes corrupting LevelDB); a lock left by a
// process that no longer exists is taken over.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { UltraError } from '../errors.ts';

export const LOCK_FILE = 'LOCK.ultracloud';

export interface DataDirLock {
  release(): void;
}

export function lockDataDir(dataDir: string): DataDirLock {
  const file = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return { release: () => rmSync(file, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && processExists(owner)) {
        throw new UltraError('FailedPrecondition', `data directory ${dataDir} is in use by process ${owner}; stop it first (or use another --data-dir)`);
      }
      rmSync(file, { force: true });
    }
  }
  throw new UltraError('Unavailable', `could not lock ${dataDir}`);
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
