import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal, LevelBackend, SnapshotStore } from '../../../runtime/persistence/index.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ultracloud-level-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('LevelBackend', () => {
  it('keeps journal events and snapshots across close and reopen', async () => {
    const first = await LevelBackend.open(dir);
    const journal = new Journal(first);
    await journal.append('acct', [{ add: 1 }, { add: 2 }], { nextSeq: 1, sync: true });
    await journal.append('acct', [{ add: 3 }], { nextSeq: 3, sync: false });
    await new SnapshotStore(first).save('acct', 2, { total: 3 });
    await journal.deleteUpTo('acct', 1);
    await first.close();

    const second = await LevelBackend.open(dir);
    const reopened = new Journal(second);
    const events = [];
    for await (const entry of reopened.replay('acct')) events.push(entry);
    expect(events).toEqual([{ seq: 2, event: { add: 2 } }, { seq: 3, event: { add: 3 } }]);
    expect(await reopened.highestSeq('acct')).toBe(3);
    expect(await new SnapshotStore(second).latest('acct')).toEqual({ seq: 2, state: { total: 3 } });
    expect(await reopened.append('acct', [{ add: 4 }], { nextSeq: 4, sync: true })).toBe(4);
    await second.close();
  });

  it('refuses a second open of a directory in use with Unavailable', async () => {
    const owner = await LevelBackend.open(dir);
    await expect(LevelBackend.open(dir)).rejects.toMatchObject({ code: 'Unavailable', details: { levelCode: 'LEVEL_DATABASE_NOT_OPEN' } });
    await owner.close();
  });
});
