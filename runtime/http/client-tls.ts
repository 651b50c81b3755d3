// How UltraCloud's HTTP clients (the CLI, the plasmavmc client) reach nodes that serve their APIs
// over TLS (api-tls.ts), configured from the environment as etcdctl's ETCDCTL_CACERT, ETCDCTL_CERT
// and ETCDCTL_KEY are: $ULTRACLOUD_CACERT, the PEM CA that issued the nodes' certificates, and
// $ULTRACLOUD_CERT with $ULTRACLOUD_KEY, the client certificate a node with a client CA requires.
// Without them, fetch's defaults (which honour NODE_EXTRA_CA_CERTS).
import { readFileSync } from 'node:fs';
import { Agent } from 'undici';
import { UltraError } from '../errors.ts';

/** The environment variables, named in errors that say what to set. */
export const CLIENT_TLS_ENV = { ca: 'ULTRACLOUD_CACERT', cert: 'ULTRACLOUD_CERT', key: 'ULTRACLOUD_KEY' } as const;

let cached: { readonly env: string; readonly init: RequestInit } | undefined;

/**
 * The fetch options that carry the TLS settings the environment asks for: an undici dispatcher
 * (Node's fetch is undici's) with the CA and client certificate, or nothing. Bad settings are an
 * InvalidArgument naming the variable.
 */
export function clientTlsInit(env: NodeJS.ProcessEnv = process.env): RequestInit {
  const ca = env[CLIENT_TLS_ENV.ca];
  const cert = env[CLIENT_TLS_ENV.cert];
  const key = env[CLIENT_TLS_ENV.key];
  const signature = `${ca}\0${cert}\0${key}`;
  if (cached?.env === signature) return cached.init;
  if ((cert === undefined) !== (key === undefined)) {
    throw new UltraError('InvalidArgument', `a client certificate needs both ${CLIENT_TLS_ENV.cert} and ${CLIENT_TLS_ENV.key} (PEM files)`);
  }
  const read = (name: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new UltraError('InvalidArgument', `${name}=${file}: ${(error as Error).message}`);
    }
  };
  const connect = {
    ...(ca === undefined ? {} : { ca: read(CLIENT_TLS_ENV.ca, ca) }),
    ...(cert === undefined || key === undefined ? {} : { cert: read(CLIENT_TLS_ENV.cert, cert), key: read(CLIENT_TLS_ENV.key, key) }),
  };
  // Node's fetch takes undici's non-standard `dispatcher` option.
  const init = (Object.keys(connect).length === 0 ? {} : { dispatcher: new Agent({ connect }) }) as RequestInit;
  cached = { env: signature, init };
  return init;
}
