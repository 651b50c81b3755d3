// How UltraCloud's HTTP clients (the CLI, the plasmavmc client) reach nodes that serve their APIs
// over TLS (api-tls.ts), configured as etcdctl is, by flags or else by environment variables: the
// PEM CA that issued the nodes' certificates (--cacert, $ULTRACLOUD_CACERT), and the client
// certificate a node with a client CA requires (--client-cert and --client-key, $ULTRACLOUD_CERT
// and $ULTRACLOUD_KEY). The CLI hands its flags to setClientTlsFiles. Without any, fetch's
// defaults (which honour NODE_EXTRA_CA_CERTS).
import { readFileSync } from 'node:fs';
import { Agent } from 'undici';
import { UltraError } from '../errors.ts';

/** The environment variables, named in errors that say what to set. */
export const CLIENT_TLS_ENV = { ca: 'ULTRACLOUD_CACERT', cert: 'ULTRACLOUD_CERT', key: 'ULTRACLOUD_KEY' } as const;

/** PEM file paths, each optional. */
export interface ClientTlsFiles {
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

/** The loaded PEM contents of ClientTlsFiles. */
export interface ClientTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

let cached: { readonly signature: string; readonly tls: ClientTls; readonly init: RequestInit } | undefined;
let explicit: ClientTlsFiles = {};

/** The CLI's --cacert/--client-cert/--client-key: each one given takes the place of its environment variable. */
export function setClientTlsFiles(files: ClientTlsFiles): void {
  explicit = files;
}

/**
 * The CA and client certificate the flags or else the environment name, read (for clients other
 * than fetch, such as grpc-js); empty when none. Bad settings are an InvalidArgument naming the
 * variable.
 */
export function clientTls(env: NodeJS.ProcessEnv = process.env): ClientTls {
  return load(env).tls;
}

/**
 * The fetch options that carry those settings: an undici dispatcher (Node's fetch is undici's)
 * with the CA and client certificate, or nothing.
 */
export function clientTlsInit(env: NodeJS.ProcessEnv = process.env): RequestInit {
  return load(env).init;
}

function load(env: NodeJS.ProcessEnv): { readonly tls: ClientTls; readonly init: RequestInit } {
  const ca = explicit.ca ?? env[CLIENT_TLS_ENV.ca];
  const cert = explicit.cert ?? env[CLIENT_TLS_ENV.cert];
  const key = explicit.key ?? env[CLIENT_TLS_ENV.key];
  const signature = `${ca}\0${cert}\0${key}`;
  if (cached?.signature === signature) return cached;
  if ((cert === undefined) !== (key === undefined)) {
    throw new UltraError('InvalidArgument', `a client certificate needs both ${CLIENT_TLS_ENV.cert} and ${CLIENT_TLS_ENV.key} (or --client-cert and --client-key), as PEM files`);
  }
  const read = (name: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new UltraError('InvalidArgument', `${name}=${file}: ${(error as Error).message}`);
    }
  };
  const tls: ClientTls = {
    ...(ca === undefined ? {} : { ca: read(CLIENT_TLS_ENV.ca, ca) }),
    ...(cert === undefined || key === undefined ? {} : { cert: read(CLIENT_TLS_ENV.cert, cert), key: read(CLIENT_TLS_ENV.key, key) }),
  };
  // Node's fetch takes undici's non-standard `dispatcher` option.
  const init = (Object.keys(tls).length === 0 ? {} : { dispatcher: new Agent({ connect: { ...tls } }) }) as RequestInit;
  cached = { signature, tls, init };
  return cached;
}
