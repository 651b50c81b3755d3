// `ultracloud node reset`'s core: what it removes and keeps, and when it refuses.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lockDataDir } from '../../runtime/node/data-dir-lock.ts';
import type { NodeConfig } from '../../runtime/node/node-config.ts';
import { isRejoining, resetNodeState } from '../../runtime/node/rejoin.ts';
import { UltraError } from '../../runtime/errors.ts';

const PEER = '/ip4/10.0.0.2/tcp/2380/p2p/12D3KooWAQw2Sbm6dBm3M4oPFFTsEtx426171Zg1JQy9ksRTERwm';
const dirs: string[] = [];

function dataDir(peers: number): NodeConfig {
  const dir = mkdtempSync(join(tmpdir(), 'uc-rejoin-'));
  dirs.push(dir);
  for (const file of ['node.json', 'node-key', 'admin-token', 'cluster.key', 'iam-admin-password']) writeFileSync(join(dir, file), 'x');
  for (const sub of ['chainfire', 'flaredb', 'logs', 'plasmavmc/images']) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'chainfire', 'CURRENT'), 'x');
  writeFileSync(join(dir, 'endpoint.json'), '{}');
  return { version: 1, dataDir: dir, listen: ['/ip4/10.0.0.1/tcp/2380'], join: Array.from({ length: peers }, () => PEER), clusterKeyFile: join(dir, 'cluster.key'), components: ['chainfire', 'flaredb'], http: { host: '127.0.0.1', port: 7000 } };
}

function expectRefusal(fn: () => unknown, message: RegExp): void {
  expect(fn).toThrow(message);
  try {
    fn();
  } catch (error) {
    expect(error instanceof UltraError && error.code).toBe('FailedPrecondition');
  }
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('node reset', () => {
  it('removes the replicated state, keeps identity, credentials and logs, and marks the node as rejoining', () => {
    const config = dataDir(2);
    expect(resetNodeState(config)).toEqual(['chainfire', 'endpoint.json', 'flaredb', 'plasmavmc']);
    expect(readdirSync(config.dataDir).sort()).toEqual(['admin-token', 'cluster.key', 'iam-admin-password', 'logs', 'node-key', 'node.json', 'rejoining']);
    expect(isRejoining(config.dataDir)).toBe(true);
    // Again (say the first start failed): nothing left to remove, still rejoining.
    expect(resetNodeState(config)).toEqual([]);
    expect(isRejoining(config.dataDir)).toBe(true);
  });

  it('keeps a cluster key inside a subfolder of the data dir', () => {
    const config = dataDir(2);
    mkdirSync(join(config.dataDir, 'secrets'));
    writeFileSync(join(config.dataDir, 'secrets', 'cluster.key'), 'k');
    expect(resetNodeState({ ...config, clusterKeyFile: join(config.dataDir, 'secrets', 'cluster.key') })).not.toContain('secrets');
    expect(existsSync(join(config.dataDir, 'secrets', 'cluster.key'))).toBe(true);
  });

  it.each([0, 1])('refuses a node with %i peer(s): no quorum holds the data without it', (peers) => {
    const config = dataDir(peers);
    expectRefusal(() => resetNodeState(config), /restore a backup/);
    expect(existsSync(join(config.dataDir, 'chainfire', 'CURRENT'))).toBe(true);
    expect(isRejoining(config.dataDir)).toBe(false);
  });

  it('refuses while the node runs, and changes nothing', () => {
    const config = dataDir(2);
    const lock = lockDataDir(config.dataDir);
    try {
      expectRefusal(() => resetNodeState(config), /in use by process/);
    } finally {
      lock.release();
    }
    expect(existsSync(join(config.dataDir, 'chainfire', 'CURRENT'))).toBe(true);
    expect(isRejoining(config.dataDir)).toBe(false);
  });
});
