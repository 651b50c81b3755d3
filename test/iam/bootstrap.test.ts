// The first administrator: created exactly once per cluster however many replicas race for it,
// its password written once (0600) on the winner only and never logged; a winner that stopped
// half-way finishes on its next start.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD_FILE, BOOTSTRAP_USER, bootstrapAdmin, readAdminPassword } from '../../actors/iam/bootstrap.ts';
import { IamStore } from '../../actors/iam/store/iam-store.ts';
import { realEnv } from '../../runtime/env/real-env.ts';
import { createLogger } from '../../runtime/log/logger.ts';
import { MemoryStrongKv } from '../support/memory-strong-kv.ts';
import { TEST_HASHER } from './harness.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function node(name: string, store: IamStore, lines: string[]) {
  const dataDir = mkdtempSync(join(tmpdir(), `uc-boot-${name}-`));
  dirs.push(dataDir);
  const log = createLogger({ level: 'debug', destination: new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }) });
  return { dataDir, run: () => bootstrapAdmin({ store, hasher: TEST_HASHER, env: realEnv(), node: name, dataDir, log }) };
}

describe('bootstrap', () => {
  it('makes exactly one admin when every replica races, and never logs the password', async () => {
    const store = new IamStore(new MemoryStrongKv());
    const lines: string[] = [];
    const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'].map((n) => node(n, store, lines));
    const outcomes = await Promise.all(nodes.map((n) => n.run()));
    expect(outcomes.filter((o) => o === 'created')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'exists')).toHaveLength(4);
    const winner = nodes[outcomes.indexOf('created')]!;
    for (const n of nodes) {
      expect(existsSync(join(n.dataDir, ADMIN_PASSWORD_FILE))).toBe(n === winner);
      expect(existsSync(join(n.dataDir, `${ADMIN_PASSWORD_FILE}.pending`))).toBe(false);
    }
    expect(statSync(join(winner.dataDir, ADMIN_PASSWORD_FILE)).mode & 0o777).toBe(0o600);
    const password = readAdminPassword(winner.dataDir);
    expect(password.length).toBeGreaterThanOrEqual(32);
    expect(lines.join('')).not.toContain(password);
    expect(await TEST_HASHER.verify(password, (await store.users.require(BOOTSTRAP_USER)).record.passwordHash!)).toBe(true);
    expect((await store.bindings.listAll()).map((b) => b.record)).toEqual([expect.objectContaining({ principal: { kind: 'user', id: 'admin' }, role: 'SystemAdmin', scope: { kind: 'system' } })]);
    // Later starts change nothing.
    expect(await nodes[0]!.run()).toBe('exists');
    expect(readAdminPassword(winner.dataDir)).toBe(password);
    expect((await store.readEpoch()).epoch).toBe(1);
  });

  it('finishes a bootstrap its winner left half-done', async () => {
    const store = new IamStore(new MemoryStrongKv());
    const n = node('n1', store, []);
    await n.run();
    const password = readFileSync(join(n.dataDir, ADMIN_PASSWORD_FILE), 'utf8').trim();
    // As if it had stopped right after claiming the record.
    await store.users.delete(BOOTSTRAP_USER);
    await store.bootstrap.update('cluster', (r) => ({ ...r, state: 'pending' }));
    expect(await n.run()).toBe('resumed');
    expect(await TEST_HASHER.verify(password, (await store.users.require(BOOTSTRAP_USER)).record.passwordHash!)).toBe(true);
    expect((await store.bootstrap.require('cluster')).record.state).toBe('done');
  });
});
