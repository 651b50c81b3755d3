// Keeps the signing keyring: makes the first key, rotates on schedule (or on demand), drops keys
// whose tokens have all expired. Any replica may do it; the keyring is one record updated with
// compare-and-swap, and the rotation decision is re-made on the value it replaces, so two replicas
// rotating at once add one key, not two.
import { UltraError } from '../../../runtime/errors.ts';
import { needsRotation, publishedKeys, rotate, sealSeed, type KeyEntry } from '../core/keyring.ts';
import { publicJwk, signingKeyFromSeed } from '../core/jwt.ts';
import type { KeyringRec } from '../store/records.ts';
import { hexId, type ServiceContext } from './context.ts';

const KEYRING_ID = 'signing';

export class KeyService {
  readonly #c: ServiceContext;
  readonly #sealingKey: Uint8Array;

  constructor(context: ServiceContext, sealingKey: Uint8Array) {
    this.#c = context;
    this.#sealingKey = sealingKey;
  }

  /** Adds a key when one is due (or `force`); returns its kid, or undefined when none was needed. Does not bump the epoch. */
  async rotate(force: boolean): Promise<string | undefined> {
    const { store, env, config } = this.#c;
    const seed = env.randomBytes(32);
    const iv = env.randomBytes(12);
    const kid = `k${Math.floor(env.now() / 1000).toString(36)}-${hexId(env, 3)}`;
    const fresh = { kid, x: publicJwk(signingKeyFromSeed(kid, seed)).x, sealedSeed: sealSeed(this.#sealingKey, kid, seed, iv) };
    for (let attempt = 0; attempt < 16; attempt++) {
      const current = await store.keyring.get(KEYRING_ID);
      const nowMs = env.now();
      const keys: readonly KeyEntry[] = current?.record.keys ?? [];
      if (!force && !needsRotation(keys, nowMs, config.keys)) return undefined;
      const next: KeyringRec = { keys: rotate(publishedKeys(keys, nowMs), fresh, nowMs, config.keys).map(stored) };
      try {
        if (current === undefined) await store.keyring.create(KEYRING_ID, next);
        else await store.keyring.replace(KEYRING_ID, next, current.version);
        this.#c.log.info({ kid, activatesAtMs: next.keys.at(-1)!.activatesAtMs }, 'iam signing key added');
        return kid;
      } catch (error) {
        if (!(error instanceof UltraError) || (error.code !== 'Aborted' && error.code !== 'AlreadyExists')) throw error;
        force = false;
      }
    }
    throw new UltraError('Aborted', 'the signing keyring kept changing concurrently; retry');
  }

  /** Rotates when due and announces it; returns whether the keyring changed. */
  async maintain(): Promise<boolean> {
    const kid = await this.rotate(false);
    if (kid === undefined) return false;
    await this.#c.store.bumpEpoch([{ table: 'keyring', id: KEYRING_ID }]);
    return true;
  }
}

function stored(k: KeyEntry): KeyringRec['keys'][number] {
  return { kid: k.kid, createdAtMs: k.createdAtMs, activatesAtMs: k.activatesAtMs, ...(k.expiresAtMs === undefined ? {} : { expiresAtMs: k.expiresAtMs }), x: k.x, sealedSeed: k.sealedSeed };
}
