// The Transport between UltraCloud nodes: libp2p over TCP inside a private network (the cluster
// key, @libp2p/pnet), authenticated by noise (a node's peer id is its node id), multiplexed by
// yamux, admitting only the peers it was given. Each node keeps one long-lived outbound stream per
// peer and writes coalesced frames of envelopes to it; it reads its peers' streams, checks every
// frame and envelope, and hands them to the router as coming from the peer noise authenticated.
// Heartbeats on the same streams feed a phi-accrual failure detector per peer; a peer it suspects,
// or whose connection stays lost, is reported down (the router then fires Terminated(node-down)),
// and reported up again when its heartbeats resume.
// With the fast path on (option fastPath), envelopes to a peer that has it on too travel over a
// plain TLS 1.3 link of their own instead (transports/tls), authenticated by the same node
// identity, while the libp2p streams keep carrying heartbeats and goodbyes: liveness is judged
// exactly as without it. Envelopes to a peer take one route only, so their order holds.
import type { TLSSocket } from 'node:tls';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { ConnectionGater, Libp2p, PeerId, Stream, StreamMessageEvent } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { Codec } from '../../runtime/codec/codec.ts';
import { FrameDecoder } from '../../runtime/codec/frame-decoder.ts';
import type { Env, Timer } from '../../runtime/env/env.ts';
import { UltraError } from '../../runtime/errors.ts';
import { silentLogger, type Logger } from '../../runtime/log/logger.ts';
import { RateLimitedLog } from '../../runtime/log/rate-limited-log.ts';
import type { CounterSeries } from '../../runtime/metrics/counter.ts';
import { MetricsRegistry } from '../../runtime/metrics/metrics-registry.ts';
import { nodeCertificate } from '../tls/node-certificate.ts';
import { dialTls, endSocket, listenTls, provesClusterKey, socketSink, type TlsCredentials, type TlsEndpoint, type TlsListener } from '../tls/tls-link.ts';
import type { Envelope, Transport, TransportHandler } from '../transport.ts';
import { backoffDelayMs, checkBackoffOptions, type BackoffOptions } from './backoff.ts';
import { EnvelopeValidator, type EnvelopeRejection } from './envelope-validator.ts';
import { checkPhiAccrualOptions, PhiAccrualFailureDetector, type PhiAccrualOptions } from './failure-detector.ts';
import type { NodeIdentity } from './identity.ts';
import { checkOutboxLimits, PeerOutbox, type FrameSink, type OutboxDropReason, type OutboxLimits } from './peer-outbox.ts';
import { clusterKeyProtector } from './psk-protector.ts';
import { ACTOR_PROTOCOL, controlFrameOf, fastPathFrame, fastPathOf, GOODBYE_FRAME, HEARTBEAT_FRAME } from './wire-format.ts';

export interface Libp2pTransportOptions {
  readonly env: Env;
  readonly identity: NodeIdentity;
  /** The cluster key, as loadClusterKeyFile returns it. */
  readonly clusterKey: Uint8Array;
  /** Multiaddrs to listen on. Default: /ip4/127.0.0.1/tcp/0. */
  readonly listen?: readonly string[];
  /** Peers to connect to, and the only ones let in: multiaddrs ending in /p2p/<peer id>. More via addPeer. */
  readonly peers?: readonly string[];
  readonly log?: Logger;
  /** Where the transport's metrics go (one transport per registry); default a registry of its own. */
  readonly metrics?: MetricsRegistry;
  /** Largest frame body either way; an inbound header over it closes that stream. Default 4 MiB. */
  readonly maxFrameBytes?: number;
  /** Envelopes per frame at most (a full batch is sent at once). Default 4096. */
  readonly maxBatchEnvelopes?: number;
  /** Per peer: bytes queued (here and in the stream's buffer) past which new envelopes are dropped. Default 16 MiB. */
  readonly maxQueuedBytes?: number;
  /** Per peer: envelopes queued past which new ones are dropped. Default 131 072. */
  readonly maxQueuedEnvelopes?: number;
  /** Heartbeat period, and how often peers are judged. Default 500 ms. */
  readonly heartbeatIntervalMs?: number;
  /** Default: threshold 8, 200 samples, 100 ms minimum deviation, 1500 ms acceptable pause. */
  readonly failureDetector?: Partial<Omit<PhiAccrualOptions, 'firstHeartbeatEstimateMs'>>;
  /**
   * A peer that is not up — never reached, or its connection lost and not re-established — for
   * this long is declared down. Default 5000 ms.
   */
  readonly unreachableTimeoutMs?: number;
  /** Redial delays after failed attempts. Default 100 ms doubling to 5000 ms, with jitter. */
  readonly reconnect?: Partial<BackoffOptions>;
  /** How long close() waits for queued frames to leave and peers to acknowledge its goodbye. Default 2000 ms. */
  readonly closeTimeoutMs?: number;
  /**
   * Carry envelopes to peers that have it on too over TLS links of their own (lower latency than
   * libp2p), listening at host:port (port 0: any free port). Off when absent.
   */
  readonly fastPath?: FastPathOptions;
}

export interface FastPathOptions {
  readonly host: string;
  readonly port: number;
  /** Where peers are told to connect, when not where this node listens (a wildcard host, a port mapping). */
  readonly advertise?: TlsEndpoint;
}

/**
 * connecting: not yet both ways (our stream to it open and its heartbeats arriving);
 * up: both ways, and the failure detector trusts it; down: reported down to the router.
 */
export type PeerStatus = 'connecting' | 'up' | 'down';

/** phi: heartbeats stopped; unreachable: no working connection for unreachableTimeoutMs; goodbye: it shut down. */
export type PeerDownReason = 'phi' | 'unreachable' | 'goodbye';

export type PeerStatusChange =
  | { readonly node: string; readonly status: 'up' }
  | { readonly node: string; readonly status: 'down'; readonly reason: PeerDownReason };

/**
 * How envelopes reach a peer. pending: the fast path is on here, and the peer's first frame has
 * not yet said whether it is on there too (envelopes wait); libp2p: its actor stream; tls: the
 * fast path's link, for as long as the peer keeps advertising one.
 */
export type PeerRoute = 'pending' | 'libp2p' | 'tls';

/** Envelopes sent that never left, by reason ('peer-down': queued or sent while the peer was down, or after close). */
export type DropReason = OutboxDropReason | 'peer-down';

/**
 * Inbound frames and envelopes refused, by reason: malformed (a frame body that is not
 * MessagePack), oversized (a length header over maxFrameBytes: the stream is closed),
 * unknown-frame (neither a batch nor a control frame), an EnvelopeRejection, or no-handler.
 */
export type InboundRejection = 'malformed' | 'oversized' | 'unknown-frame' | EnvelopeRejection | 'no-handler';

export interface Libp2pTransportStats {
  readonly framesSent: number;
  readonly envelopesSent: number;
  readonly bytesSent: number;
  readonly framesReceived: number;
  readonly envelopesReceived: number;
  readonly dropped: Readonly<Record<DropReason, number>>;
  readonly rejected: Readonly<Record<InboundRejection, number>>;
  /** Connections from peers not on the allow-list, and fast-path links that failed authentication either way. */
  readonly refusedConnections: number;
  /** Of envelopesSent, those sent over the fast path. */
  readonly fastPathEnvelopesSent: number;
  /** Of envelopesReceived, those received over the fast path. */
  readonly fastPathEnvelopesReceived: number;
}

const DROP_REASONS: readonly DropReason[] = ['queue-full', 'too-large', 'unencodable', 'peer-down'];
const INBOUND_REJECTIONS: readonly InboundRejection[] = ['malformed', 'oversized', 'unknown-frame', 'invalid-envelope', 'misdirected', 'forged-origin', 'no-handler'];
const DOWN_REASONS: readonly PeerDownReason[] = ['phi', 'unreachable', 'goodbye'];

/** Streams per connection per direction: one is used; a few more cover a replacement overlapping the old. */
const MAX_STREAMS_PER_CONNECTION = 8;
/** Worker threads of one peer we remember, to report them down with it (see transports/worker). */
const MAX_SUB_NODES_PER_PEER = 1024;

interface PeerLink {
  readonly node: string;
  address: Multiaddr;
  readonly outbox: PeerOutbox;
  status: PeerStatus;
  /** Our outbound stream to it, once open. */
  stream: Stream | undefined;
  dialing: boolean;
  failedDials: number;
  redialTimer: Timer | undefined;
  /** Runs while the peer is neither up with a stream nor down; when it fires the peer is down. */
  unreachableTimer: Timer | undefined;
  detector: PhiAccrualFailureDetector | undefined;
  /** When its last heartbeat arrived (monotonic ms), whatever the status. */
  lastHeartbeatMs: number | undefined;
  /** Its streams to us that are open. */
  readonly inbound: Set<Stream>;
  /** Its worker threads we have sent to (`<peer>~<name>`): they go down with it. */
  readonly subNodes: Set<string>;
  /** A peerDown notice for a watch sent while down is already queued. */
  downNoticeQueued: boolean;
  route: PeerRoute;
  /** Where its fast path listens, as it last advertised. */
  tlsEndpoint: TlsEndpoint | undefined;
  /** Our fast-path link to it, once authenticated. */
  tlsSocket: TLSSocket | undefined;
  /** Its fast-path links to us. */
  readonly tlsInbound: Set<TLSSocket>;
  tlsDialing: boolean;
  tlsFailedDials: number;
  tlsRedialTimer: Timer | undefined;
  /** When our current link to it came up (monotonic ms). */
  tlsUpSinceMs: number;
}

interface FastPath {
  readonly listener: TlsListener;
  readonly credentials: TlsCredentials;
  /** The advertisement, the first frame on each of our actor streams. */
  readonly advert: Uint8Array;
}

interface Counters {
  readonly framesSent: CounterSeries;
  readonly envelopesSent: CounterSeries;
  readonly bytesSent: CounterSeries;
  readonly framesReceived: CounterSeries;
  readonly envelopesReceived: CounterSeries;
  readonly dropped: Readonly<Record<DropReason, CounterSeries>>;
  readonly rejected: Readonly<Record<InboundRejection, CounterSeries>>;
  readonly refused: CounterSeries;
  readonly down: Readonly<Record<PeerDownReason, CounterSeries>>;
  readonly fastPathEnvelopesSent: CounterSeries;
  readonly fastPathEnvelopesReceived: CounterSeries;
}

export class Libp2pTransport implements Transport {
  readonly localNode: string;
  readonly #env: Env;
  readonly #node: Libp2p;
  readonly #log: Logger;
  readonly #codec: Codec;
  readonly #validator: EnvelopeValidator;
  readonly #counters: Counters;
  readonly #rejectionLog: RateLimitedLog;
  readonly #refusalLog: RateLimitedLog;
  readonly #dropLog: RateLimitedLog;
  readonly #peers = new Map<string, PeerLink>();
  readonly #statusListeners = new Set<(change: PeerStatusChange) => void>();
  readonly #limits: OutboxLimits;
  readonly #heartbeatIntervalMs: number;
  readonly #detectorOptions: PhiAccrualOptions;
  readonly #unreachableTimeoutMs: number;
  readonly #backoff: BackoffOptions;
  readonly #closeTimeoutMs: number;
  #handler: TransportHandler | undefined;
  #tickTimer: Timer | undefined;
  /** When the pending tick should run (monotonic ms): lateness past it means this process stalled. */
  #tickDueMs = 0;
  #closing: Promise<void> | undefined;
  /** Set once, in start(), before any peer is added. */
  #fastPath: FastPath | undefined;

  /** Starts a libp2p node with the given identity and cluster key, listening, and dials the given peers. */
  static async start(options: Libp2pTransportOptions): Promise<Libp2pTransport> {
    const gate: { allows: (peer: PeerId) => boolean } = { allows: () => false };
    const node = await createLibp2p({
      privateKey: options.identity.privateKey,
      addresses: { listen: [...(options.listen ?? ['/ip4/127.0.0.1/tcp/0'])] },
      transports: [tcp()],
      connectionProtector: clusterKeyProtector(options.clusterKey),
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: allowListGater((peer) => gate.allows(peer)),
      connectionManager: {
        // The default (5 per second per host) refuses a cluster that re-forms quickly, and on
        // loopback every node is the same host.
        inboundConnectionThreshold: 100,
        maxIncomingPendingConnections: 100,
      },
      // Our heartbeats watch every peer, more often and through the failure detector.
      connectionMonitor: { enabled: false },
    }).catch((error: unknown) => {
      throw new UltraError('Unavailable', `cannot start libp2p on ${JSON.stringify(options.listen ?? [])}: ${UltraError.from(error).message}`);
    });
    let transport: Libp2pTransport | undefined;
    try {
      transport = new Libp2pTransport(node, options);
      const started = transport;
      gate.allows = (peer) => started.#admits(peer);
      if (options.fastPath !== undefined) transport.#fastPath = await transport.#startFastPath(options.fastPath, options.identity, options.clusterKey);
      await node.handle(ACTOR_PROTOCOL, (stream, connection) => started.#accept(stream, connection.remotePeer), {
        maxInboundStreams: MAX_STREAMS_PER_CONNECTION,
        maxOutboundStreams: MAX_STREAMS_PER_CONNECTION,
      });
      for (const address of options.peers ?? []) transport.addPeer(address);
      transport.#armTick();
      return transport;
    } catch (error) {
      // Bad options or peer addresses: do not leave a listening node behind.
      await node.stop();
      if (transport !== undefined) await transport.#fastPath?.listener.close();
      throw error;
    }
  }

  private constructor(node: Libp2p, options: Libp2pTransportOptions) {
    this.#node = node;
    this.#env = options.env;
    this.localNode = options.identity.nodeId;
    this.#log = (options.log ?? silentLogger()).child({ component: 'libp2p-transport' });
    this.#codec = new Codec({ maxFrameBytes: options.maxFrameBytes ?? 4 * 1024 * 1024 });
    this.#validator = new EnvelopeValidator(this.localNode);
    this.#counters = registerCounters(options.metrics ?? new MetricsRegistry(), this);
    const now = () => this.#env.monotonicNow();
    this.#rejectionLog = new RateLimitedLog({ logger: this.#log, now, maxPerWindow: 10, windowMs: 10_000 });
    this.#refusalLog = new RateLimitedLog({ logger: this.#log, now, maxPerWindow: 10, windowMs: 10_000 });
    this.#dropLog = new RateLimitedLog({ logger: this.#log, now, maxPerWindow: 10, windowMs: 10_000 });
    this.#limits = checkOutboxLimits({
      maxBatchEnvelopes: options.maxBatchEnvelopes ?? 4096,
      maxQueuedBytes: options.maxQueuedBytes ?? 16 * 1024 * 1024,
      maxQueuedEnvelopes: options.maxQueuedEnvelopes ?? 131_072,
    });
    this.#heartbeatIntervalMs = positive('heartbeatIntervalMs', options.heartbeatIntervalMs ?? 500);
    this.#detectorOptions = checkPhiAccrualOptions({
      threshold: options.failureDetector?.threshold ?? 8,
      maxSampleSize: options.failureDetector?.maxSampleSize ?? 200,
      minStdDeviationMs: options.failureDetector?.minStdDeviationMs ?? 100,
      acceptableHeartbeatPauseMs: options.failureDetector?.acceptableHeartbeatPauseMs ?? 1500,
      firstHeartbeatEstimateMs: this.#heartbeatIntervalMs,
    });
    this.#unreachableTimeoutMs = positive('unreachableTimeoutMs', options.unreachableTimeoutMs ?? 5000);
    this.#backoff = checkBackoffOptions({ initialDelayMs: options.reconnect?.initialDelayMs ?? 100, maxDelayMs: options.reconnect?.maxDelayMs ?? 5000 });
    this.#closeTimeoutMs = positive('closeTimeoutMs', options.closeTimeoutMs ?? 2000);
  }

  // ── Transport ────────────────────────────────────────────────────────────

  /** Peers and their worker threads (`<peer>~<name>`, reached through the peer), until close. */
  reaches(node: string): boolean {
    return this.#closing === undefined && this.#peerFor(node) !== undefined;
  }

  send(node: string, envelope: Envelope): void {
    const peer = this.#peerFor(node);
    if (peer === undefined || this.#closing !== undefined) {
      this.#counters.dropped['peer-down'].inc();
      return;
    }
    if (node !== peer.node && peer.subNodes.size < MAX_SUB_NODES_PER_PEER) peer.subNodes.add(node);
    if (peer.status === 'down') {
      this.#counters.dropped['peer-down'].inc();
      // A watch on a node that is down must still end in Terminated(node-down); the router sends
      // it when told the node is down (again).
      if (envelope.k === 'watch' && !peer.downNoticeQueued) {
        peer.downNoticeQueued = true;
        queueMicrotask(() => {
          peer.downNoticeQueued = false;
          if (peer.status === 'down') this.#notifyDown(peer);
        });
      }
      return;
    }
    peer.outbox.push(envelope);
  }

  setHandler(handler: TransportHandler): void {
    this.#handler = handler;
  }

  /**
   * Sends what is queued and a goodbye to every peer (they report this node down at once instead
   * of waiting for their failure detectors), waits up to closeTimeoutMs for it to leave, then stops
   * libp2p.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  // ── Peers ────────────────────────────────────────────────────────────────

  /** Where this node's fast path listens, when it is on. */
  get fastPathAddress(): TlsEndpoint | undefined {
    return this.#fastPath?.listener.address;
  }

  /** How envelopes reach `node` now. */
  peerRoute(node: string): PeerRoute | undefined {
    return this.#peers.get(node)?.route;
  }

  /** This node's listen addresses, each ending in /p2p/<its peer id>: what peers put in their peer lists. */
  get listenAddresses(): string[] {
    return this.#node.getMultiaddrs().map((address) => address.toString());
  }

  /**
   * Adds a peer to dial and admit (a multiaddr ending in /p2p/<peer id>); for a known peer,
   * replaces its address. Returns its node id.
   */
  addPeer(address: string): string {
    let parsed: Multiaddr;
    try {
      parsed = multiaddr(address);
    } catch (error) {
      throw new UltraError('InvalidArgument', `invalid peer multiaddr ${JSON.stringify(address)}: ${UltraError.from(error).message}`);
    }
    const node = parsed.getComponents().findLast((c) => c.name === 'p2p')?.value;
    if (node === undefined) throw new UltraError('InvalidArgument', `peer multiaddr ${address} does not end in /p2p/<peer id>`);
    if (node === this.localNode) throw new UltraError('InvalidArgument', `peer multiaddr ${address} names this node`);
    checkPeerId(node, address);
    const known = this.#peers.get(node);
    if (known !== undefined) {
      known.address = parsed;
      return node;
    }
    const peer: PeerLink = {
      node,
      address: parsed,
      outbox: new PeerOutbox(this.#codec, this.#limits, {
        frameWritten: (envelopes, bytes) => {
          this.#counters.framesSent.inc();
          this.#counters.envelopesSent.inc(envelopes);
          this.#counters.bytesSent.inc(bytes);
          // The outbox is attached to the fast-path link only while the route is tls.
          if (peer.route === 'tls') this.#counters.fastPathEnvelopesSent.inc(envelopes);
        },
        dropped: (reason, envelopes, detail) => {
          this.#counters.dropped[reason].inc(envelopes);
          this.#dropLog.log({ peer: node, reason, detail }, 'outbound envelope dropped');
        },
      }),
      status: 'connecting',
      stream: undefined,
      dialing: false,
      failedDials: 0,
      redialTimer: undefined,
      unreachableTimer: undefined,
      detector: undefined,
      lastHeartbeatMs: undefined,
      inbound: new Set(),
      subNodes: new Set(),
      downNoticeQueued: false,
      route: this.#fastPath === undefined ? 'libp2p' : 'pending',
      tlsEndpoint: undefined,
      tlsSocket: undefined,
      tlsInbound: new Set(),
      tlsDialing: false,
      tlsFailedDials: 0,
      tlsRedialTimer: undefined,
      tlsUpSinceMs: 0,
    };
    this.#peers.set(node, peer);
    this.#startUnreachableTimer(peer);
    void this.#dial(peer);
    return node;
  }

  peerStatus(node: string): PeerStatus | undefined {
    return this.#peers.get(node)?.status;
  }

  /** Calls `listener` on every up/down transition of a peer; returns the unsubscribe function. */
  onPeerStatus(listener: (change: PeerStatusChange) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  /** Bytes on their way to `node`: frames queued here plus its stream's write buffer. */
  queuedBytes(node: string): number {
    return this.#peers.get(node)?.outbox.queuedBytes ?? 0;
  }

  stats(): Libp2pTransportStats {
    const c = this.#counters;
    return {
      framesSent: c.framesSent.get(),
      envelopesSent: c.envelopesSent.get(),
      bytesSent: c.bytesSent.get(),
      framesReceived: c.framesReceived.get(),
      envelopesReceived: c.envelopesReceived.get(),
      dropped: readAll(c.dropped),
      rejected: readAll(c.rejected),
      refusedConnections: c.refused.get(),
      fastPathEnvelopesSent: c.fastPathEnvelopesSent.get(),
      fastPathEnvelopesReceived: c.fastPathEnvelopesReceived.get(),
    };
  }

  /** Peers per status and bytes queued to all of them, for the gauges. */
  summary(): { readonly peers: Readonly<Record<PeerStatus, number>>; readonly queuedBytes: number } {
    const peers = { connecting: 0, up: 0, down: 0 };
    let queuedBytes = 0;
    for (const peer of this.#peers.values()) {
      peers[peer.status]++;
      queuedBytes += peer.outbox.queuedBytes;
    }
    return { peers, queuedBytes };
  }

  // ── Outbound streams ─────────────────────────────────────────────────────

  async #dial(peer: PeerLink): Promise<void> {
    if (this.#closing !== undefined || peer.dialing || peer.stream !== undefined) return;
    peer.redialTimer?.cancel();
    peer.redialTimer = undefined;
    peer.dialing = true;
    let stream: Stream;
    try {
      // Reuses an open connection to the peer (ours or its own to us) when there is one. No abort
      // signal: aborting the one a connection was dialled with later tears that connection down,
      // taking unsent frames with it; node.stop() ends dials still in flight at close.
      stream = await this.#node.dialProtocol(peer.address, ACTOR_PROTOCOL);
    } catch (error) {
      peer.dialing = false;
      if (this.#closing !== undefined) return;
      this.#log.debug({ peer: peer.node, attempt: peer.failedDials + 1, error: UltraError.from(error).message }, 'dial failed');
      this.#redialLater(peer);
      return;
    }
    peer.dialing = false;
    if (this.#closing !== undefined) {
      stream.abort(new UltraError('Unavailable', 'transport closed'));
      return;
    }
    this.#attach(peer, stream);
  }

  #redialLater(peer: PeerLink): void {
    if (peer.redialTimer !== undefined) return;
    // The exponent is capped only to keep 2^attempt finite; the delay itself is capped by maxDelayMs.
    const delayMs = backoffDelayMs(Math.min(peer.failedDials, 30), this.#backoff, () => this.#env.random());
    peer.failedDials++;
    peer.redialTimer = this.#env.setTimer(delayMs, () => {
      peer.redialTimer = undefined;
      void this.#dial(peer);
    });
  }

  #attach(peer: PeerLink, stream: Stream): void {
    if (stream.status !== 'open') {
      // Closed before we got it: its 'close' event has passed.
      this.#redialLater(peer);
      return;
    }
    peer.stream = stream;
    peer.failedDials = 0;
    stream.addEventListener('close', () => this.#outboundClosed(peer, stream));
    // Send-only: a peer writing back on it is out of protocol.
    stream.addEventListener('message', () => stream.abort(new UltraError('InvalidArgument', 'data on a send-only actor stream')));
    // The advertisement goes first: the peer picks its route to this node by a stream's first frame.
    if (this.#fastPath !== undefined) this.#sendControl(stream, this.#fastPath.advert);
    if (peer.route === 'libp2p') peer.outbox.attach(streamSink(stream));
    // A heartbeat at once, so the peer sees this node up without waiting a whole interval.
    this.#sendHeartbeat(peer);
    if (peer.status === 'up') {
      this.#stopUnreachableTimer(peer);
    } else if (peer.lastHeartbeatMs !== undefined && this.#env.monotonicNow() - peer.lastHeartbeatMs <= this.#heartbeatIntervalMs) {
      // Its heartbeat beat our stream to it: both ways work now, no need to wait for the next one.
      this.#up(peer, peer.lastHeartbeatMs);
    }
    this.#log.debug({ peer: peer.node }, 'actor stream open');
  }

  #outboundClosed(peer: PeerLink, stream: Stream): void {
    if (peer.stream !== stream) return;
    peer.stream = undefined;
    if (peer.route === 'libp2p') peer.outbox.detach();
    if (this.#closing !== undefined) return;
    this.#log.info({ peer: peer.node, status: peer.status }, 'actor stream closed; reconnecting');
    if (peer.status === 'down') {
      // Down (it said goodbye, or went silent): it is not coming back this instant.
      this.#redialLater(peer);
    } else {
      this.#startUnreachableTimer(peer);
      void this.#dial(peer);
    }
  }

  // ── Inbound streams ──────────────────────────────────────────────────────

  #accept(stream: Stream, remote: PeerId): void {
    const peer = this.#peers.get(remote.toString());
    if (peer === undefined) {
      // The gater keeps unknown peers out; this covers a peer removed from the list meanwhile.
      this.#refuse(remote.toString(), 'stream');
      stream.abort(new UltraError('PermissionDenied', 'not a cluster peer'));
      return;
    }
    // Receive-only: close our half at once, so the stream is fully released when the peer closes its half.
    stream.close().catch(() => {});
    peer.inbound.add(stream);
    stream.addEventListener('close', () => peer.inbound.delete(stream));
    const decoder = new FrameDecoder({ maxFrameBytes: this.#codec.maxFrameBytes, codec: this.#codec });
    let first = true;
    const onBody = (body: unknown): void => {
      if (first) {
        first = false;
        this.#learnRoute(peer, body);
      }
      this.#receive(peer, body);
    };
    stream.addEventListener('message', (event: StreamMessageEvent) => {
      const data = event.data;
      if (data instanceof Uint8Array) {
        this.#read(peer, stream, decoder, data, onBody);
      } else {
        for (const chunk of data) if (!this.#read(peer, stream, decoder, chunk, onBody)) return;
      }
    });
    // The peer is evidently back: no need to sit out the rest of a redial backoff.
    if (peer.stream === undefined && !peer.dialing) {
      peer.failedDials = 0;
      void this.#dial(peer);
    }
  }

  /** Feeds one chunk to the stream's decoder and acts on the frames; false once the stream is closed. */
  #read(peer: PeerLink, stream: Stream, decoder: FrameDecoder, chunk: Uint8Array, onBody: (body: unknown) => void): boolean {
    // Bytes arriving prove the peer alive, even midway through a frame of many megabytes, and even
    // when its heartbeats are stuck behind that frame.
    peer.detector?.signOfLife(this.#env.monotonicNow());
    const { values, errors } = decoder.push(chunk);
    for (const body of values) onBody(body);
    this.#rejectAll(peer, errors);
    if (!decoder.failed) return true;
    // An oversized header leaves no trustworthy frame boundary after it (see FrameDecoder).
    stream.abort(new UltraError('ResourceExhausted', 'frame over the size limit'));
    return false;
  }

  #rejectAll(peer: PeerLink, errors: readonly UltraError[]): void {
    for (const error of errors) this.#reject(peer, error.code === 'ResourceExhausted' ? 'oversized' : 'malformed', error.message);
  }

  #receive(peer: PeerLink, body: unknown): void {
    if (Array.isArray(body)) {
      this.#deliver(peer, body);
      return;
    }
    // Acted on as a stream's first frame (#learnRoute); harmless anywhere else.
    if (fastPathOf(body) !== undefined) return;
    switch (controlFrameOf(body)) {
      case 'heartbeat':
        this.#heartbeat(peer);
        return;
      case 'goodbye':
        this.#log.info({ peer: peer.node }, 'peer said goodbye');
        this.#markDown(peer, 'goodbye');
        // Ending our stream to it is the acknowledgement its close() waits for.
        peer.stream?.close().catch(() => {});
        return;
      case undefined:
        this.#reject(peer, 'unknown-frame', undefined);
    }
  }

  /** Checks a batch's envelopes and hands the valid ones to the router, as coming from `peer`. */
  #deliver(peer: PeerLink, batch: readonly unknown[]): void {
    this.#counters.framesReceived.inc();
    this.#counters.envelopesReceived.inc(batch.length);
    const handler = this.#handler;
    for (const value of batch) {
      const rejection = this.#validator.check(value, peer.node);
      if (rejection !== undefined) {
        this.#reject(peer, rejection, `k=${String((value as { k?: unknown } | null)?.k).slice(0, 40)}`);
      } else if (handler === undefined) {
        this.#reject(peer, 'no-handler', undefined);
      } else {
        try {
          handler.envelope(peer.node, value as Envelope);
        } catch (error) {
          // A throw here would escape through libp2p's or the socket's event dispatch and take the process down.
          this.#log.error({ peer: peer.node, err: error }, 'router failed on an inbound envelope');
        }
      }
    }
  }

  #reject(peer: PeerLink, reason: InboundRejection, detail: string | undefined): void {
    this.#counters.rejected[reason].inc();
    this.#rejectionLog.log({ peer: peer.node, reason, detail }, 'inbound frame or envelope rejected');
  }

  #admits(peer: PeerId): boolean {
    if (this.#peers.has(peer.toString())) return true;
    this.#refuse(peer.toString(), 'connection');
    return false;
  }

  #refuse(peer: string | undefined, what: 'connection' | 'stream' | 'fast-path link', reason = 'not on the allow-list'): void {
    this.#counters.refused.inc();
    this.#refusalLog.log({ peer, what, reason }, 'refused a peer');
  }

  // ── Fast path ────────────────────────────────────────────────────────────

  async #startFastPath(options: FastPathOptions, identity: NodeIdentity, clusterKey: Uint8Array): Promise<FastPath> {
    const credentials: TlsCredentials = { certificate: nodeCertificate(identity), clusterKey };
    const listener = await listenTls(
      options,
      credentials,
      (socket, peer) => this.#acceptTls(socket, peer),
      (reason) => this.#refuse(undefined, 'fast-path link', reason),
    );
    const advertised = options.advertise ?? listener.address;
    return { listener, credentials, advert: fastPathFrame(advertised.host, advertised.port) };
  }

  /** A peer's first frame on a new actor stream: its advertisement if its fast path is on, anything else if not. */
  #learnRoute(peer: PeerLink, body: unknown): void {
    if (this.#fastPath === undefined) return;
    const endpoint = fastPathOf(body);
    if (endpoint === undefined) this.#routeOverLibp2p(peer);
    else this.#routeOverTls(peer, endpoint);
  }

  #routeOverLibp2p(peer: PeerLink): void {
    if (peer.route === 'libp2p') return;
    if (peer.route === 'tls') {
      // It came back without the fast path (a restart with other options).
      peer.tlsRedialTimer?.cancel();
      peer.tlsRedialTimer = undefined;
      peer.tlsEndpoint = undefined;
      this.#dropTlsLink(peer);
    }
    peer.route = 'libp2p';
    if (peer.stream !== undefined) peer.outbox.attach(streamSink(peer.stream));
    this.#log.debug({ peer: peer.node }, 'peer has no fast path; envelopes go over libp2p');
  }

  #routeOverTls(peer: PeerLink, endpoint: TlsEndpoint): void {
    const moved = peer.tlsEndpoint !== undefined && (peer.tlsEndpoint.host !== endpoint.host || peer.tlsEndpoint.port !== endpoint.port);
    if (peer.route === 'libp2p') peer.outbox.detach();
    peer.route = 'tls';
    peer.tlsEndpoint = endpoint;
    // A new address means a new process behind it (a restart): the old link leads nowhere.
    if (moved) this.#dropTlsLink(peer);
    if (peer.tlsSocket === undefined) {
      peer.tlsFailedDials = 0;
      void this.#dialTls(peer);
    }
  }

  async #dialTls(peer: PeerLink): Promise<void> {
    const fastPath = this.#fastPath;
    const endpoint = peer.tlsEndpoint;
    if (fastPath === undefined || endpoint === undefined || this.#closing !== undefined) return;
    if (peer.route !== 'tls' || peer.tlsDialing || peer.tlsSocket !== undefined) return;
    peer.tlsRedialTimer?.cancel();
    peer.tlsRedialTimer = undefined;
    peer.tlsDialing = true;
    let socket: TLSSocket;
    try {
      socket = await dialTls(endpoint, peer.node, fastPath.credentials, this.#env);
    } catch (error) {
      peer.tlsDialing = false;
      if (this.#closing !== undefined) return;
      const failure = UltraError.from(error);
      if (failure.code === 'PermissionDenied') this.#refuse(peer.node, 'fast-path link', failure.message);
      else this.#log.debug({ peer: peer.node, attempt: peer.tlsFailedDials + 1, error: failure.message }, 'fast-path dial failed');
      this.#redialTlsLater(peer);
      return;
    }
    peer.tlsDialing = false;
    if (this.#closing !== undefined || peer.route !== 'tls') {
      socket.destroy();
      return;
    }
    peer.tlsSocket = socket;
    peer.tlsUpSinceMs = this.#env.monotonicNow();
    // Every error ends in 'close', which is where it is dealt with.
    socket.on('error', (error) => this.#log.debug({ peer: peer.node, error: error.message }, 'fast-path link failed'));
    socket.on('close', () => this.#tlsClosed(peer, socket));
    // Send-only, like the actor streams: a peer writing back is out of protocol.
    socket.on('data', () => socket.destroy());
    if (socket.destroyed) {
      // Closed while this dial was finishing; its 'close' may already have passed.
      this.#tlsClosed(peer, socket);
      return;
    }
    peer.outbox.attach(socketSink(socket));
    this.#log.debug({ peer: peer.node }, 'fast path open');
  }

  #tlsClosed(peer: PeerLink, socket: TLSSocket): void {
    if (peer.tlsSocket !== socket) return;
    peer.tlsSocket = undefined;
    peer.outbox.detach();
    if (this.#closing !== undefined) return;
    // A link that lasted was a success: the next failure starts the backoff over. One that the
    // peer drops at once (say, for a wrong cluster key) keeps backing off.
    if (this.#env.monotonicNow() - peer.tlsUpSinceMs > this.#backoff.maxDelayMs) peer.tlsFailedDials = 0;
    this.#log.info({ peer: peer.node, status: peer.status }, 'fast path closed; reconnecting');
    this.#redialTlsLater(peer);
  }

  #dropTlsLink(peer: PeerLink): void {
    const socket = peer.tlsSocket;
    if (socket === undefined) return;
    peer.tlsSocket = undefined;
    peer.outbox.detach();
    socket.destroy();
  }

  #redialTlsLater(peer: PeerLink): void {
    if (peer.tlsRedialTimer !== undefined) return;
    const delayMs = backoffDelayMs(Math.min(peer.tlsFailedDials, 30), this.#backoff, () => this.#env.random());
    peer.tlsFailedDials++;
    peer.tlsRedialTimer = this.#env.setTimer(delayMs, () => {
      peer.tlsRedialTimer = undefined;
      // A peer that is down is not dialled until it is up again (#up).
      if (peer.status !== 'down') void this.#dialTls(peer);
    });
  }

  /** A peer's fast-path link to this node: receive-only, its first frame the cluster-key proof. */
  #acceptTls(socket: TLSSocket, remote: PeerId): void {
    const fastPath = this.#fastPath;
    const peer = this.#closing === undefined && this.#admits(remote) ? this.#peers.get(remote.toString()) : undefined;
    if (fastPath === undefined || peer === undefined) {
      socket.destroy();
      return;
    }
    // Every error ends in 'close'.
    socket.on('error', () => {});
    peer.tlsInbound.add(socket);
    socket.on('close', () => peer.tlsInbound.delete(socket));
    const decoder = new FrameDecoder({ maxFrameBytes: this.#codec.maxFrameBytes, codec: this.#codec });
    let proven = false;
    socket.on('data', (chunk: Buffer) => {
      const { values, errors } = decoder.push(chunk);
      let start = 0;
      if (!proven) {
        if (values.length === 0 && errors.length === 0) return;
        if (errors.length > 0 || !provesClusterKey(socket, fastPath.credentials.clusterKey, values[0])) {
          socket.destroy();
          this.#refuse(peer.node, 'fast-path link', 'no proof of the cluster key');
          return;
        }
        proven = true;
        start = 1;
      }
      // As on the actor streams: bytes arriving prove the peer alive.
      peer.detector?.signOfLife(this.#env.monotonicNow());
      for (let i = start; i < values.length; i++) {
        const body = values[i];
        if (Array.isArray(body)) {
          this.#counters.fastPathEnvelopesReceived.inc(body.length);
          this.#deliver(peer, body);
        } else {
          // Heartbeats and goodbyes travel on libp2p; nothing else belongs here.
          this.#reject(peer, 'unknown-frame', 'on the fast path');
        }
      }
      this.#rejectAll(peer, errors);
      // An oversized header leaves no trustworthy frame boundary after it (see FrameDecoder).
      if (decoder.failed) socket.destroy();
    });
  }

  // ── Liveness ─────────────────────────────────────────────────────────────

  readonly #tick = (): void => {
    if (this.#closing !== undefined) return;
    const now = this.#env.monotonicNow();
    for (const peer of this.#peers.values()) this.#sendHeartbeat(peer);
    if (now - this.#tickDueMs > this.#heartbeatIntervalMs) {
      // This process did not run for a while (a long task, GC, a busy host): the silence it
      // would now see includes its own, and peers it shares the pause with (same host, same
      // process) had no chance to speak. Judge at the next tick, once they have.
      this.#log.debug({ lateMs: Math.round(now - this.#tickDueMs) }, 'heartbeat tick late; not judging peers this time');
    } else {
      // Judged after the host has read its sockets: heartbeats that arrived while this process
      // was busy count as arrived.
      this.#env.yieldThen(this.#judge);
    }
    this.#armTick();
  };

  #armTick(): void {
    this.#tickDueMs = this.#env.monotonicNow() + this.#heartbeatIntervalMs;
    this.#tickTimer = this.#env.setTimer(this.#heartbeatIntervalMs, this.#tick);
  }

  readonly #judge = (): void => {
    if (this.#closing !== undefined) return;
    const now = this.#env.monotonicNow();
    for (const peer of this.#peers.values()) {
      if (peer.status === 'up' && peer.detector?.suspects(now) === true) {
        this.#log.warn({ peer: peer.node, phi: peer.detector.phi(now) }, 'heartbeats stopped');
        this.#markDown(peer, 'phi');
      }
    }
  };

  #sendHeartbeat(peer: PeerLink): void {
    const stream = peer.stream;
    // Written straight to the stream, past queued frames and even while it waits for drain (it
    // is a few bytes), but not past the queue bound: a peer that far behind is not reading anyway.
    // Envelopes routed elsewhere (pending, or the fast path) queue elsewhere: then only the
    // stream's own buffer counts, so a slow or reconnecting fast path never silences heartbeats.
    if (stream === undefined) return;
    const queuedBytes = peer.route === 'libp2p' ? peer.outbox.queuedBytes : stream.writeBufferLength;
    if (queuedBytes + HEARTBEAT_FRAME.length > this.#limits.maxQueuedBytes) return;
    this.#sendControl(stream, HEARTBEAT_FRAME);
  }

  #sendControl(stream: Stream, frame: Uint8Array): void {
    try {
      stream.send(frame);
    } catch {
      // Closing: its close handler deals with it.
    }
  }

  #heartbeat(peer: PeerLink): void {
    const now = this.#env.monotonicNow();
    peer.lastHeartbeatMs = now;
    if (peer.status === 'up') {
      peer.detector?.heartbeat(now);
    } else if (peer.stream !== undefined) {
      // Up means both ways; until our stream to it is open, its heartbeats prove only half.
      this.#up(peer, now);
    }
  }

  #up(peer: PeerLink, heardAtMs: number): void {
    peer.detector = new PhiAccrualFailureDetector(this.#detectorOptions);
    peer.detector.heartbeat(heardAtMs);
    peer.status = 'up';
    this.#stopUnreachableTimer(peer);
    if (peer.route === 'tls' && peer.tlsSocket === undefined) {
      // Back (its fast-path redials stop while it is down): no need to sit out a backoff.
      peer.tlsFailedDials = 0;
      void this.#dialTls(peer);
    }
    this.#log.info({ peer: peer.node }, 'peer up');
    this.#emit({ node: peer.node, status: 'up' });
  }

  #markDown(peer: PeerLink, reason: PeerDownReason): void {
    if (peer.status === 'down') return;
    peer.status = 'down';
    peer.detector = undefined;
    this.#stopUnreachableTimer(peer);
    const discarded = peer.outbox.clear();
    if (reason !== 'goodbye') this.#severLinks(peer);
    this.#counters.dropped['peer-down'].inc(discarded);
    this.#counters.down[reason].inc();
    this.#log.warn({ peer: peer.node, reason, discardedEnvelopes: discarded }, 'peer down');
    this.#notifyDown(peer);
    this.#emit({ node: peer.node, status: 'down', reason });
  }

  /**
   * Drops every link to and from a peer reported down. Once its down notice fired (pending asks
   * failed, watchers got Terminated), nothing sent before it may still arrive: frames sitting in
   * socket buffers across a partition would otherwise be delivered after it heals — a write the
   * client was told had failed could then take effect. With the links closed here, their bytes
   * can no longer be read; the peer's retransmissions meet a closed socket. Dials start over
   * once it is heard from again.
   */
  #severLinks(peer: PeerLink): void {
    const reason = new UltraError('Unavailable', `peer ${peer.node} is down`);
    peer.stream?.abort(reason);
    for (const stream of peer.inbound) stream.abort(reason);
    peer.tlsSocket?.destroy();
    for (const socket of peer.tlsInbound) socket.destroy();
  }

  #notifyDown(peer: PeerLink): void {
    const handler = this.#handler;
    if (handler === undefined) return;
    handler.peerDown(peer.node);
    for (const subNode of peer.subNodes) handler.peerDown(subNode);
  }

  #startUnreachableTimer(peer: PeerLink): void {
    if (peer.unreachableTimer !== undefined) return;
    peer.unreachableTimer = this.#env.setTimer(this.#unreachableTimeoutMs, () => {
      peer.unreachableTimer = undefined;
      this.#markDown(peer, 'unreachable');
    });
  }

  #stopUnreachableTimer(peer: PeerLink): void {
    peer.unreachableTimer?.cancel();
    peer.unreachableTimer = undefined;
  }

  #emit(change: PeerStatusChange): void {
    for (const listener of this.#statusListeners) {
      try {
        listener(change);
      } catch (error) {
        this.#log.error({ err: error, change }, 'peer status listener failed');
      }
    }
  }

  // ── Lifecycle ────────────────────────────────────────────────────────────

  #peerFor(node: string): PeerLink | undefined {
    const peer = this.#peers.get(node);
    if (peer !== undefined) return peer;
    const tilde = node.indexOf('~');
    return tilde > 0 ? this.#peers.get(node.slice(0, tilde)) : undefined;
  }

  async #shutDown(): Promise<void> {
    this.#tickTimer?.cancel();
    const leaving: Array<Promise<unknown>> = [];
    for (const peer of this.#peers.values()) {
      peer.redialTimer?.cancel();
      peer.tlsRedialTimer?.cancel();
      this.#stopUnreachableTimer(peer);
      peer.outbox.flush();
      leaving.push(this.#leave(peer));
    }
    await new Promise<void>((resolve) => {
      const timer = this.#env.setTimer(this.#closeTimeoutMs, resolve);
      void Promise.all(leaving).then(() => {
        timer.cancel();
        resolve();
      });
    });
    await this.#node.stop();
    for (const peer of this.#peers.values()) peer.tlsSocket?.destroy();
    await this.#fastPath?.listener.close();
  }

  /** Sends `peer` what is queued and a goodbye; settles once it acknowledged the goodbye. */
  async #leave(peer: PeerLink): Promise<void> {
    // The fast-path link is ended first, and the peer has read it to the end when it closes its
    // side: so no envelope of ours reaches it after the goodbye that reports this node down.
    if (peer.tlsSocket !== undefined) await endSocket(peer.tlsSocket);
    const stream = peer.stream;
    if (stream === undefined) return;
    try {
      stream.send(GOODBYE_FRAME);
    } catch {
      return;
    }
    // The peer acknowledges the goodbye by ending its streams to us. Stopping libp2p before
    // that was seen to lose the goodbye: the peer then only noticed through its failure detector.
    await Promise.all([stream.close().catch(() => {}), ...[...peer.inbound].map(whenClosed)]);
  }
}

function streamSink(stream: Stream): FrameSink {
  return {
    write: (frame) => stream.send(frame),
    onDrain: () => stream.onDrain(),
    get bufferedBytes() {
      return stream.writeBufferLength;
    },
  };
}

function whenClosed(stream: Stream): Promise<void> {
  if (stream.status !== 'open' && stream.status !== 'closing') return Promise.resolve();
  return new Promise((resolve) => stream.addEventListener('close', () => resolve(), { once: true }));
}

function allowListGater(allows: (peer: PeerId) => boolean): ConnectionGater {
  // Checked once the peer has proved its id (noise), in both directions, and before dialling.
  return {
    denyDialPeer: (peer) => !allows(peer),
    denyInboundEncryptedConnection: (peer) => !allows(peer),
    denyOutboundEncryptedConnection: (peer) => !allows(peer),
  };
}

function checkPeerId(node: string, address: string): void {
  try {
    peerIdFromString(node);
  } catch (error) {
    throw new UltraError('InvalidArgument', `peer multiaddr ${address} has an invalid peer id: ${UltraError.from(error).message}`);
  }
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new UltraError('InvalidArgument', `${name} must be a positive number, got ${value}`);
  return value;
}

function readAll<K extends string>(series: Readonly<Record<K, CounterSeries>>): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const key of Object.keys(series) as K[]) out[key] = series[key].get();
  return out;
}

function registerCounters(metrics: MetricsRegistry, transport: Libp2pTransport): Counters {
  const counter = (name: string, help: string) => metrics.counter({ name, help });
  const byReason = <R extends string>(name: string, help: string, reasons: readonly R[]): Record<R, CounterSeries> => {
    const metric = metrics.counter({ name, help, labelNames: ['reason'] });
    return Object.fromEntries(reasons.map((reason) => [reason, metric.labels({ reason })])) as Record<R, CounterSeries>;
  };
  metrics.gauge({
    name: 'ultracloud_libp2p_peers',
    help: 'Cluster peers by status (connecting, up, down).',
    labelNames: ['status'],
    collect: (gauge) => {
      for (const [status, count] of Object.entries(transport.summary().peers)) gauge.labels({ status }).set(count);
    },
  });
  metrics.gauge({
    name: 'ultracloud_libp2p_queued_bytes',
    help: 'Bytes queued to all peers, here and in stream buffers.',
    collect: (gauge) => gauge.set(transport.summary().queuedBytes),
  });
  return {
    framesSent: counter('ultracloud_libp2p_frames_sent_total', 'Frames written to peer streams.'),
    envelopesSent: counter('ultracloud_libp2p_envelopes_sent_total', 'Envelopes written to peer streams.'),
    bytesSent: counter('ultracloud_libp2p_bytes_sent_total', 'Frame bytes written to peer streams.'),
    framesReceived: counter('ultracloud_libp2p_frames_received_total', 'Envelope batches received from peers.'),
    envelopesReceived: counter('ultracloud_libp2p_envelopes_received_total', 'Envelopes received from peers, valid or not.'),
    dropped: byReason('ultracloud_libp2p_envelopes_dropped_total', 'Outbound envelopes that never left, by reason.', DROP_REASONS),
    rejected: byReason('ultracloud_libp2p_inbound_rejected_total', 'Inbound frames or envelopes refused, by reason.', INBOUND_REJECTIONS),
    refused: counter('ultracloud_libp2p_connections_refused_total', 'Connections and streams refused because the peer is not on the allow-list.'),
    down: byReason('ultracloud_libp2p_peer_down_total', 'Peers reported down, by reason.', DOWN_REASONS),
    fastPathEnvelopesSent: counter('ultracloud_libp2p_fast_path_envelopes_sent_total', 'Envelopes written to fast-path (TLS) links.'),
    fastPathEnvelopesReceived: counter('ultracloud_libp2p_fast_path_envelopes_received_total', 'Envelopes received on fast-path (TLS) links, valid or not.'),
  };
}
