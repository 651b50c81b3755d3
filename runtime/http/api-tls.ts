// TLS for a node's client-facing APIs: the control API, every component's REST API and chainfire's
// etcd gRPC API. As etcd's --cert-file/--key-file, and --trusted-ca-file with --client-cert-auth:
// the operator's serving certificate (chain) and key and, optionally, a CA whose client
// certificates every connection must present. A client certificate admits a connection and, for a
// request that carries no token, names its caller by its common name (verifiedClientName, then the
// gate's authenticateCertificate), as etcd's --client-cert-auth does; the gate authorizes that
// caller as any other. Loaded and checked once when the node starts, so a wrong path or a key that
// does not belong to its certificate stops the node with the file named, rather than failing every
// handshake later.
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createSecureContext, TLSSocket, type Server, type TlsOptions } from 'node:tls';
import { UltraError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';

/** Where the PEM files are (node.json's `tls`). */
export interface ApiTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** When set, clients must present a certificate this CA issued. */
  readonly clientCaFile?: string | undefined;
}

/** The loaded PEM contents. */
export interface ApiTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly clientCa: Buffer | undefined;
}

/** TLS 1.2 is what etcd and Go's gRPC clients still accept; nothing older. */
const MIN_VERSION = 'TLSv1.2';

export function loadApiTls(files: ApiTlsFiles): ApiTls {
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new UltraError('InvalidArgument', `API TLS: cannot read the ${what} ${file}: ${(error as Error).message}; fix the path in node.json's "tls"`);
    }
  };
  const tls: ApiTls = {
    cert: read(files.certFile, 'certificate'),
    key: read(files.keyFile, 'key'),
    clientCa: files.clientCaFile === undefined ? undefined : read(files.clientCaFile, 'client CA certificate'),
  };
  try {
    // Parses all three and fails when the key does not match the certificate ("key values mismatch").
    createSecureContext(serverTlsOptions(tls, []));
  } catch (error) {
    const names = [files.certFile, files.keyFile, ...(files.clientCaFile === undefined ? [] : [files.clientCaFile])].join(', ');
    throw new UltraError('InvalidArgument', `API TLS: ${(error as Error).message} (in ${names}): give a PEM certificate, its PEM private key${files.clientCaFile === undefined ? '' : ' and a PEM CA certificate'}`);
  }
  return tls;
}

/**
 * node:tls server options; `alpn` is what the server speaks (`h2` for gRPC, `http/1.1` for REST).
 * Each server parses the PEM again: a tls.Server builds its context from these options and ignores
 * a `secureContext` one (tried: the handshake then finds no certificate).
 */
export function serverTlsOptions(tls: ApiTls, alpn: readonly string[]): TlsOptions {
  return {
    cert: tls.cert,
    key: tls.key,
    minVersion: MIN_VERSION,
    ...(alpn.length === 0 ? {} : { ALPNProtocols: [...alpn] }),
    ...(tls.clientCa === undefined ? {} : { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true }),
  };
}

/**
 * Logs each refused handshake (an untrusted or missing client certificate, a client that does not
 * trust ours, plain HTTP on the TLS port), as etcd logs a rejected connection: the client only sees
 * the connection close, so the server's log is where an operator finds why.
 */
export function logRefusedHandshakes(server: Server, log: Logger): void {
  server.on('tlsClientError', (error, socket) => log.warn({ remote: socket.remoteAddress, error: error.message }, 'TLS handshake refused'));
}

/**
 * The common name of the client certificate `socket`'s handshake verified against the client CA;
 * undefined on a plain socket, on a server without a client CA (no certificate is asked for), or
 * when the certificate's subject has no single common name.
 */
export function verifiedClientName(socket: Socket): string | undefined {
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  const name = socket.getPeerCertificate().subject?.CN;
  return typeof name === 'string' && name !== '' ? name : undefined;
}
