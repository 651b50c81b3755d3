// The fast path's connections: plain TLS 1.3 over TCP between two nodes, each side presenting its
// node certificate (node-certificate.ts), so a link is authenticated by the same Ed25519 identity
// noise proves on libp2p, but without libp2p's layers (pnet, noise framing, yamux windows) on
// the way. Like the libp2p actor streams, a link is one-way: the dialler only writes frames, the
// acceptor only reads them. The dialler's first frame proves it holds the cluster key (an HMAC of
// the link's TLS exported keying material under that key), so the fast path keeps out what the
// cluster key keeps out of libp2p: an identity on the allow-list is not enough without the key.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { PeerId } from '@libp2p/interface';
import { Codec } from '../../runtime/codec/codec.ts';
import type { Env } from '../../runtime/env/env.ts';
import { UltraError } from '../../runtime/errors.ts';
import type { FrameSink } from '../libp2p/peer-outbox.ts';
import { certificatePeerId, type NodeCertificate } from './node-certificate.ts';

export interface TlsEndpoint {
  readonly host: string;
  readonly port: number;
}

export interface TlsCredentials {
  readonly certificate: NodeCertificate;
  /** The cluster key, as loadClusterKeyFile returns it. */
  readonly clusterKey: Uint8Array;
}

/** How long a dial may take to connect and finish the handshake: a black-holed address would otherwise hang for minutes. */
const HANDSHAKE_TIMEOUT_MS = 5_000;
const EXPORTER_LABEL = 'EXPORTER-ultracloud-cluster-key';
const PROOF_BYTES = 32;
const NO_CONTEXT = Buffer.alloc(0);
const proofCodec = new Codec();

/** A listening fast-path server. */
export interface TlsListener {
  /** Where it listens (the port chosen, when asked for port 0). */
  readonly address: TlsEndpoint;
  /** Stops listening and destroys every connection, mid-handshake or not; resolves once closed. */
  close(): Promise<void>;
}

/**
 * Listens for links. `accept` gets each socket whose handshake completed and whose certificate
 * names a peer; `refuse` gets the others (their sockets are already destroyed), with the reason.
 */
export async function listenTls(
  endpoint: TlsEndpoint,
  credentials: TlsCredentials,
  accept: (socket: TLSSocket, peer: PeerId) => void,
  refuse: (reason: string) => void,
): Promise<TlsListener> {
  const connections = new Set<Socket>();
  const server = createServer(
    {
      key: credentials.certificate.keyPem,
      cert: credentials.certificate.certPem,
      minVersion: 'TLSv1.3',
      // Certificates are checked here, against the allow-list and not a CA: every node's is self-signed.
      requestCert: true,
      rejectUnauthorized: false,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    },
    (socket) => {
      let peer: PeerId;
      try {
        peer = peerOf(socket);
      } catch (error) {
        socket.destroy();
        refuse(UltraError.from(error).message);
        return;
      }
      socket.setNoDelay(true);
      accept(socket, peer);
    },
  );
  server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  // Handshake failures (no certificate offered, TLS below 1.3, garbage) only ever concern that socket.
  server.on('tlsClientError', (error, socket) => {
    socket.destroy();
    refuse(error.message);
  });
  server.listen(endpoint.port, endpoint.host);
  try {
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => Promise.reject(error as Error))]);
  } catch (error) {
    throw new UltraError('Unavailable', `cannot listen for TLS on ${endpoint.host}:${endpoint.port}: ${UltraError.from(error).message}`);
  }
  const { port } = server.address() as AddressInfo;
  return {
    address: { host: endpoint.host, port },
    close: () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of connections) socket.destroy();
      return closed;
    },
  };
}

/**
 * Connects to `endpoint` and returns the link once the peer there has proved to be `expected`
 * and this side's cluster-key proof is written. PermissionDenied if the peer is someone else;
 * Unavailable if it cannot be reached in time.
 */
export async function dialTls(endpoint: TlsEndpoint, expected: string, credentials: TlsCredentials, env: Env): Promise<TLSSocket> {
  const socket = connect({
    host: endpoint.host,
    port: endpoint.port,
    key: credentials.certificate.keyPem,
    cert: credentials.certificate.certPem,
    minVersion: 'TLSv1.3',
    rejectUnauthorized: false,
  });
  const timer = env.setTimer(HANDSHAKE_TIMEOUT_MS, () => socket.destroy(new UltraError('DeadlineExceeded', 'TLS handshake timed out')));
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
      // A socket closed without an error (say, destroyed by the timer racing an error) must not leave this pending.
      socket.once('close', () => reject(new UltraError('Unavailable', 'closed during the handshake')));
    });
  } catch (error) {
    socket.destroy();
    throw new UltraError('Unavailable', `TLS dial to ${endpoint.host}:${endpoint.port} failed: ${UltraError.from(error).message}`);
  } finally {
    timer.cancel();
  }
  let peer: string;
  try {
    peer = peerOf(socket).toString();
  } catch (error) {
    socket.destroy();
    throw error;
  }
  if (peer !== expected) {
    socket.destroy();
    throw new UltraError('PermissionDenied', `TLS endpoint ${endpoint.host}:${endpoint.port} is ${peer}, not ${expected}`);
  }
  socket.setNoDelay(true);
  socket.write(proofCodec.encodeFrame(clusterKeyProof(socket, credentials.clusterKey)));
  return socket;
}

/** Whether `body`, the first frame a dialler sent on `socket`, proves it holds the cluster key. */
export function provesClusterKey(socket: TLSSocket, clusterKey: Uint8Array, body: unknown): boolean {
  return body instanceof Uint8Array && body.length === PROOF_BYTES && timingSafeEqual(body, clusterKeyProof(socket, clusterKey));
}

/** A PeerOutbox sink writing to `socket`. */
export function socketSink(socket: TLSSocket): FrameSink {
  return {
    write(frame) {
      // A destroyed socket drops writes with an asynchronous error; the outbox must know now, to keep the frame.
      if (socket.destroyed || !socket.writable) throw new UltraError('Unavailable', 'TLS link closed');
      return socket.write(frame);
    },
    onDrain: () =>
      new Promise<void>((resolve, reject) => {
        const drained = (): void => {
          socket.off('close', closed);
          resolve();
        };
        const closed = (): void => {
          socket.off('drain', drained);
          reject(new UltraError('Unavailable', 'TLS link closed'));
        };
        socket.once('drain', drained);
        socket.once('close', closed);
      }),
    get bufferedBytes() {
      return socket.writableLength;
    },
  };
}

/** Ends `socket` after what it buffered has left, resolving once it is closed (the peer closes its side on our end). */
export function endSocket(socket: TLSSocket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  const closed = once(socket, 'close').then(() => {});
  socket.end();
  return closed;
}

function peerOf(socket: TLSSocket): PeerId {
  const certificate = socket.getPeerX509Certificate();
  if (certificate === undefined) throw new UltraError('PermissionDenied', 'TLS peer presented no certificate');
  return certificatePeerId(certificate);
}

function clusterKeyProof(socket: TLSSocket, clusterKey: Uint8Array): Uint8Array {
  // The keying material is unique to this link's handshake, so a proof cannot be replayed on another.
  return createHmac('sha256', clusterKey).update(socket.exportKeyingMaterial(PROOF_BYTES, EXPORTER_LABEL, NO_CONTEXT)).digest();
}
