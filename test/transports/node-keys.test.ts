// The node identity and the cluster key on disk: created once (mode 0600), loaded afterwards,
// and refused with a clear error when missing, exposed or damaged.
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClusterKeyFile, loadClusterKeyFile } from '../../transports/libp2p/cluster-key.ts';
import { loadOrCreateNodeIdentity, NODE_KEY_FILE } from '../../transports/libp2p/identity.ts';
import { env } from './libp2p-test-nodes.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'uc-keys-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('node identity', () => {
  it('is created on first start with mode 0600 and loaded unchanged afterwards', async () => {
    const dataDir = join(dir, 'data');
    const first = await loadOrCreateNodeIdentity(dataDir, env);
    expect(first.privateKey.type).toBe('Ed25519');
    expect(first.nodeId).toBe(first.peerId.toString());
    expect((await stat(join(dataDir, NODE_KEY_FILE))).mode & 0o777).toBe(0o600);
    const again = await loadOrCreateNodeIdentity(dataDir, env);
    expect(again.nodeId).toBe(first.nodeId);
    expect(again.privateKey.equals(first.privateKey)).toBe(true);
  });

  it('gives every data directory its own identity, also when created concurrently', async () => {
    const racers = await Promise.all([1, 2, 3].map(() => loadOrCreateNodeIdentity(join(dir, 'same'), env)));
    expect(new Set(racers.map((r) => r.nodeId)).size).toBe(1);
    const other = await loadOrCreateNodeIdentity(join(dir, 'other'), env);
    expect(other.nodeId).not.toBe(racers[0]!.nodeId);
  });

  it('refuses a key file others can read', async () => {
    await loadOrCreateNodeIdentity(dir, env);
    await chmod(join(dir, NODE_KEY_FILE), 0o644);
    await expect(loadOrCreateNodeIdentity(dir, env)).rejects.toMatchObject({ code: 'FailedPrecondition', message: expect.stringMatching(/mode 644.*chmod 600/) });
  });

  it('says where it could not create the key', async () => {
    await writeFile(join(dir, 'a-file'), 'x');
    await expect(loadOrCreateNodeIdentity(join(dir, 'a-file', 'data'), env)).rejects.toMatchObject({
      code: 'FailedPrecondition',
      message: expect.stringMatching(/cannot (create|read) node key .*a-file/),
    });
  });

  it('refuses a damaged key file instead of taking a new name', async () => {
    await writeFile(join(dir, NODE_KEY_FILE), 'not a key', { mode: 0o600 });
    await expect(loadOrCreateNodeIdentity(dir, env)).rejects.toMatchObject({ code: 'FailedPrecondition', message: expect.stringMatching(/not a libp2p private key/) });
    expect(await readFile(join(dir, NODE_KEY_FILE), 'utf8')).toBe('not a key');
  });
});

describe('cluster key', () => {
  it('is created once, in the @libp2p/pnet format, and loads back', async () => {
    const path = join(dir, 'keys', 'cluster.key');
    const created = await createClusterKeyFile(path, env);
    expect(new TextDecoder().decode(created)).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}$/);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await loadClusterKeyFile(path)).toEqual(created);
    await expect(createClusterKeyFile(path, env)).rejects.toMatchObject({ code: 'AlreadyExists' });
    expect(await loadClusterKeyFile(path)).toEqual(created);
  });

  it('says what is wrong with a missing, exposed or malformed key file', async () => {
    const path = join(dir, 'cluster.key');
    await expect(loadClusterKeyFile(path)).rejects.toMatchObject({ code: 'NotFound' });
    const good = new TextDecoder().decode(await createClusterKeyFile(path, env));
    await chmod(path, 0o640);
    await expect(loadClusterKeyFile(path)).rejects.toMatchObject({ code: 'FailedPrecondition', message: expect.stringMatching(/mode 640/) });
    const cases: Array<[string, RegExp]> = [
      [good.replace('/key/swarm/psk/1.0.0/', '/key/swarm/psk/2.0.0/'), /starts with/],
      [good.replace('/base16/', '/base64/'), /names encoding/],
      [good.slice(0, -2), /32-byte hex key/],
      [`${good}\nmore`, /text after the key/],
    ];
    for (const [text, message] of cases) {
      await writeFile(path, text, { mode: 0o600 });
      await chmod(path, 0o600);
      await expect(loadClusterKeyFile(path)).rejects.toMatchObject({ code: 'FailedPrecondition', message: expect.stringMatching(message) });
    }
    await writeFile(path, `${good}\n`);
    expect(new TextDecoder().decode(await loadClusterKeyFile(path))).toBe(`${good}\n`);
  });
});
