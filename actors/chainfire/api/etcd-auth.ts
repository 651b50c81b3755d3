// Who may call chainfire's etcd API. With a cluster credential, clients log in as etcd clients
// do (Auth.Authenticate with name and password returns a token; every later call carries it in
// the `token` metadata, which etcdctl --user and clientv3 do on their own). A custom check can
// replace it (iam tokens, UC-06). With neither, the API is open: for tests and local use only.
import type { Metadata } from '@grpc/grpc-js';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Env } from '../../../runtime/env/env.ts';

export interface ClusterCredential {
  readonly user: string;
  readonly password: string;
}

/** 'missing' and 'invalid' differ because etcd answers them with different errors. */
export type AuthCheck = 'ok' | 'missing' | 'invalid';

export interface EtcdAuthenticator {
  /** True when Auth.Authenticate is served (etcd's "auth enabled"). */
  readonly issuesTokens: boolean;
  /** A token for a correct name and password; undefined otherwise. */
  authenticate(name: string, password: string): string | undefined;
  check(metadata: Metadata): AuthCheck;
}

/** Tokens held at once; the oldest is forgotten first, and its client logs in again (clientv3 does on its own). */
export const MAX_TOKENS = 4096;

export function openAccess(): EtcdAuthenticator {
  return { issuesTokens: false, authenticate: () => undefined, check: () => 'ok' };
}

export function customCheck(accept: (metadata: Metadata) => boolean): EtcdAuthenticator {
  return { issuesTokens: false, authenticate: () => undefined, check: (metadata) => (accept(metadata) ? 'ok' : 'invalid') };
}

export class CredentialAuth implements EtcdAuthenticator {
  readonly issuesTokens = true;
  readonly #user: Buffer;
  readonly #password: Buffer;
  readonly #env: Pick<Env, 'randomBytes'>;
  // Tokens live as long as the server (etcd's simple tokens expire after 5 idle minutes); insertion
  // order makes eviction oldest-first.
  readonly #tokens = new Set<string>();

  constructor(credential: ClusterCredential, env: Pick<Env, 'randomBytes'>) {
    this.#user = digest(credential.user);
    this.#password = digest(credential.password);
    this.#env = env;
  }

  authenticate(name: string, password: string): string | undefined {
    // Both compared in constant time and always both, so timing says nothing about which was wrong.
    const userOk = timingSafeEqual(digest(name), this.#user);
    const passwordOk = timingSafeEqual(digest(password), this.#password);
    if (!userOk || !passwordOk) return undefined;
    const token = Buffer.from(this.#env.randomBytes(24)).toString('base64url');
    this.#tokens.add(token);
    if (this.#tokens.size > MAX_TOKENS) this.#tokens.delete(this.#tokens.values().next().value!);
    return token;
  }

  check(metadata: Metadata): AuthCheck {
    const [token] = metadata.get('token');
    if (token === undefined) return 'missing';
    return typeof token === 'string' && this.#tokens.has(token) ? 'ok' : 'invalid';
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
