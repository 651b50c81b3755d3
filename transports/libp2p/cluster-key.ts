// The cluster's pre-shared key: every node of one cluster holds the same key, and libp2p's
// private-network protector (@libp2p/pnet) encrypts each connection with it before anything else
// happens, so a process without the key cannot even reach the noise handshake. The operator
// creates the key once and copies it to every node; a node never makes one up on its own, since a
// node with a key of its own would silently form a cluster of one.
import type { Env } from '../../runtime/env/env.ts';
import { UltraError } from '../../runtime/errors.ts';
import { createSecretFile, readSecretFile } from './secret-file.ts';

// The pnet "v1" key file, byte for byte what @libp2p/pnet's generateKey writes.
const HEADER = '/key/swarm/psk/1.0.0/';
const ENCODING = '/base16/';
const KEY_BYTES = 32;
const KEY_HEX = /^[0-9a-f]{64}$/i;

/**
 * Creates a new cluster key file at `path` (mode 0600) and returns the key; AlreadyExists when
 * there is one, so a second run cannot replace the key the cluster already uses.
 */
export async function createClusterKeyFile(path: string, env: Env): Promise<Uint8Array> {
  // pnet's own generateKey draws from the host directly; the Env keeps simulated clusters
  // reproducible and is the OS CSPRNG on real time.
  const hex = Array.from(env.randomBytes(KEY_BYTES), (b) => b.toString(16).padStart(2, '0')).join('');
  const key = new TextEncoder().encode(`${HEADER}\n${ENCODING}\n${hex}`);
  if (!(await createSecretFile(path, key, 'cluster key', env))) {
    throw new UltraError('AlreadyExists', `a cluster key already exists at ${path}; refusing to replace it`);
  }
  return key;
}

/**
 * Reads and checks the cluster key file at `path`. The result is what
 * `preSharedKey({ psk })` takes. NotFound, or FailedPrecondition saying what is wrong with it.
 */
export async function loadClusterKeyFile(path: string): Promise<Uint8Array> {
  const bytes = await readSecretFile(path, 'cluster key');
  checkClusterKey(bytes, path);
  return bytes;
}

function checkClusterKey(bytes: Uint8Array, path: string): void {
  const fail = (problem: string): never => {
    throw new UltraError(
      'FailedPrecondition',
      `cluster key ${path} ${problem}; expected three lines: ${HEADER}, ${ENCODING}, and ${KEY_BYTES * 2} hex digits`,
    );
  };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail('is not text');
  }
  const [header, encoding, key, ...rest] = text.split(/\r?\n/);
  if (header !== HEADER) fail(`starts with ${JSON.stringify(header?.slice(0, 40))}`);
  if (encoding !== ENCODING) fail(`names encoding ${JSON.stringify(encoding?.slice(0, 40))}`);
  if (key === undefined || !KEY_HEX.test(key)) fail(`does not hold a ${KEY_BYTES}-byte hex key on its third line`);
  if (rest.some((line) => line.trim() !== '')) fail('has text after the key');
}
