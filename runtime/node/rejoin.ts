// Replacing a node's disk. A voter that lost its Raft state must not rejoin as if nothing
// happened: the votes and acknowledgements it forgot may be what made entries committed, so voting
// at once could elect a leader without them. `ultracloud node reset` clears the node's replicated
// state (keeping its identity and config) and leaves a marker; while it is there, every Raft
// replica the node creates with an empty log starts recovering (runtime/raft: no votes, no
// campaigns until caught up). The daemon removes the marker once every component reports its
// replicas caught up — like etcd's `--initial-cluster-state existing`, but for the same member.
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Env, Timer } from '../env/env.ts';
import { UltraError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { ADMIN_TOKEN_FILE } from './admin-credential.ts';
import { LOCK_FILE, lockDataDir } from './data-dir-lock.ts';
import type { RunningComponent } from './component.ts';
import { NODE_CONFIG_FILE, type NodeConfig } from './node-config.ts';

const REJOIN_MARKER = 'rejoining';

/** What a reset keeps: who the node is and how it reaches its cluster (and its logs, for the record). */
const KEPT = new Set([NODE_CONFIG_FILE, 'node-key', ADMIN_TOKEN_FILE, 'iam-admin-password', 'logs', REJOIN_MARKER]);

export function isRejoining(dataDir: string): boolean {
  return existsSync(join(dataDir, REJOIN_MARKER));
}

const REJOIN_POLL_MS = 1_000;

/**
 * Asks the components every second whether their replicas caught up; once all say so, removes
 * the marker. Returns the cancel for shutdown (a stop before then keeps the marker: the next
 * start goes on recovering).
 */
export function watchRejoin(env: Env, log: Logger, dataDir: string, components: readonly RunningComponent[]): () => void {
  let stopped = false;
  let timer: Timer | undefined;
  const check = async (): Promise<void> => {
    const caughtUp = await Promise.all(components.map((c) => (c.caughtUp === undefined ? true : c.caughtUp().catch(() => false))));
    if (stopped) return;
    if (caughtUp.every(Boolean)) {
      rmSync(join(dataDir, REJOIN_MARKER), { force: true });
      log.info('rejoin complete: every replica caught up, this node votes again');
      return;
    }
    timer = env.setTimer(REJOIN_POLL_MS, () => void check());
  };
  timer = env.setTimer(REJOIN_POLL_MS, () => void check());
  return () => {
    stopped = true;
    timer?.cancel();
  };
}

/**
 * Clears a stopped node's replicated state and marks it as rejoining; returns what it removed.
 * Refused while the node runs, and for a node without peers (there is no copy to recover from:
 * restore a backup instead).
 */
export function resetNodeState(config: NodeConfig): string[] {
  if (config.join.length < 2) {
    throw new UltraError('FailedPrecondition', `node ${config.dataDir} has ${config.join.length === 0 ? 'no peers' : 'one peer'}: a reset needs at least two others holding the data (a quorum without this node); restore a backup instead (ultracloud cluster restore)`);
  }
  const lock = lockDataDir(config.dataDir);
  try {
    const keyFile = resolve(config.clusterKeyFile);
    const removed: string[] = [];
    for (const name of readdirSync(config.dataDir)) {
      const path = join(config.dataDir, name);
      if (KEPT.has(name) || name === LOCK_FILE || path === keyFile || keyFile.startsWith(`${path}/`)) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(name);
    }
    writeFileSync(join(config.dataDir, REJOIN_MARKER), 'this node lost its state and is catching up; it does not vote until then (docs/operations.md)\n', { mode: 0o644 });
    return removed.sort();
  } finally {
    lock.release();
  }
}
