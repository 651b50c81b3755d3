// A node's identity on the cluster network: an Ed25519 key kept in the node's data directory. Its
// libp2p peer id is the node id in every ActorRef, so keeping the key keeps the node's name across
// restarts, and noise proves on every connection that the peer holds the key behind that name.
import { join } from 'node:path';
import { generateKeyPairFromSeed, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { Env } from '../../runtime/env/env.ts';
import { isUltraError, UltraError } from '../../runtime/errors.ts';
import { createSecretFile, readSecretFile } from './secret-file.ts';

/** The key's file name inside the data directory. */
export const NODE_KEY_FILE = 'node-key';

const ED25519_SEED_BYTES = 32;

export interface NodeIdentity {
  readonly privateKey: Ed25519PrivateKey;
  readonly peerId: PeerId;
  /** The peer id as text: this node's id in ActorRefs. */
  readonly nodeId: string;
}

/**
 * Loads the node key from `<dataDir>/node-key`, creating it (mode 0600) on first start.
 * A file that is not an Ed25519 libp2p key, or that others can read, is FailedPrecondition: the
 * node must not silently take a new name, since every ref to its actors carries the old one.
 */
export async function loadOrCreateNodeIdentity(dataDir: string, env: Env): Promise<NodeIdentity> {
  const path = join(dataDir, NODE_KEY_FILE);
  try {
    return identityFromKeyFile(await readSecretFile(path, 'node key'), path);
  } catch (error) {
    if (!isUltraError(error, 'NotFound')) throw error;
  }
  // The seed comes from the Env so that simulated nodes get reproducible ids; on real time it is
  // drawn from the operating system's CSPRNG (RealEnv.randomBytes).
  const fresh = await generateKeyPairFromSeed('Ed25519', env.randomBytes(ED25519_SEED_BYTES));
  // Losing a creation race to another process is fine: both then load the winner's key.
  await createSecretFile(path, privateKeyToProtobuf(fresh), 'node key', env);
  return identityFromKeyFile(await readSecretFile(path, 'node key'), path);
}

function identityFromKeyFile(bytes: Uint8Array, path: string): NodeIdentity {
  let key: ReturnType<typeof privateKeyFromProtobuf>;
  try {
    key = privateKeyFromProtobuf(bytes);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UltraError('FailedPrecondition', `node key ${path} is not a libp2p private key (${reason})`);
  }
  if (key.type !== 'Ed25519') {
    throw new UltraError('FailedPrecondition', `node key ${path} is a ${key.type} key; UltraCloud node keys are Ed25519`);
  }
  const peerId = peerIdFromPrivateKey(key);
  return { privateKey: key, peerId, nodeId: peerId.toString() };
}
