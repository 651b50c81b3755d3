// The simulated network: every node incarnation gets a SimTransport (the Transport interface of
// transports/transport.ts), and every envelope crossing it is a scheduler event, labelled with its
// route and kind so the trace hash covers it.
//
// The model is one connection per pair of nodes, like TCP or a libp2p stream:
// - Envelopes are structured-cloned on send (nodes never share objects) and arrive after a seeded
//   per-link latency, in order — unless the reorder fault lets one overtake, the loss fault drops
//   one, or the duplicate fault delivers one twice.
// - A partition (full or one-way) holds envelopes back, as a connection retransmits; if it heals
//   within the failure-detection timeout they arrive late and in order.
// - A heartbeat failure detector, modelled without heartbeat traffic: a pair whose heartbeats stop
//   (a link blocked either way, a peer paused or crashed) for detectionTimeoutMs has its connection
//   reset: held envelopes are dropped and both ends get peerDown. A crashed peer whose path is open
//   resets at once (the RST arrives after one latency), and a peer that restarted is noticed when it
//   is heard again. After a reset, sends to that peer are refused (reaches() is false) until the
//   pair is healthy again and a new connection forms.
// - Each end can also watch its connections (SimTransport.watchPeers): 'up' when one forms or
//   recovers from suspicion, 'down' with the reason when one is reset — what a real transport's
//   peer-status events say, and what membership's PeerPort (peer-port.ts) is built on.
// - Deliveries to a paused node wait until it resumes (its kernel buffers them); nothing reaches a
//   crashed incarnation.
import type { PeerStatusChange } from '../runtime/cluster/membership-actor.ts';
import type { Timer } from '../runtime/env/env.ts';
import type { Prng } from '../runtime/env/prng.ts';
import type { VirtualScheduler } from '../runtime/env/virtual-env.ts';
import { UltraError } from '../runtime/errors.ts';
import type { Envelope, Transport, TransportHandler } from '../transports/transport.ts';
import type { Counters } from './counters.ts';
import { faultCounter } from './faults.ts';
import type { NodeEnv } from './node-env.ts';

export interface NetworkOptions {
  /** How long a pair may go without heartbeats before the failure detector resets it. */
  readonly detectionTimeoutMs: number;
  /** Each directed link's base one-way latency is drawn from [minLatencyMs, maxLatencyMs]. */
  readonly minLatencyMs: number;
  readonly maxLatencyMs: number;
}

export interface LinkFaultRates {
  readonly loss: number;
  readonly duplicate: number;
  readonly reorder: number;
}

export const NO_LINK_FAULTS: LinkFaultRates = { loss: 0, duplicate: 0, reorder: 0 };

/**
 * Why a connection was reset: its pair went unheard past the detection timeout, the peer's process
 * died with the path open (its OS sent a reset), or the peer came back as a new incarnation.
 */
export type ResetReason = 'unreachable' | 'connection-reset' | 'restarted';

/** One incarnation of one node's network stack. */
class Endpoint {
  readonly node: string;
  readonly incarnation: number;
  readonly env: NodeEnv;
  handler: TransportHandler | undefined;
  peerStatus: ((change: PeerStatusChange) => void) | undefined;
  alive = true;

  constructor(node: string, incarnation: number, env: NodeEnv) {
    this.node = node;
    this.incarnation = incarnation;
    this.env = env;
  }
}

/** One direction of a pair. */
interface Link {
  readonly from: string;
  readonly to: string;
  readonly baseLatencyMs: number;
  /** Partitions currently blocking this direction (they may overlap). */
  blocks: number;
  slowFactor: number;
  /** Envelopes held back by a partition, oldest first; later arrivals queue behind them. */
  held: Envelope[];
  draining: boolean;
  /** Arrival time of the latest in-order envelope: the next one may not arrive before it. */
  lastArrival: number;
  /** Envelopes sent on this link so far, and the highest send number that has arrived. */
  sent: number;
  highestArrived: number;
}

/** The connection between two nodes (a < b) and the failure detector's view of it. */
interface Pair {
  readonly a: string;
  readonly b: string;
  state: 'up' | 'suspect' | 'down';
  /** The incarnations this connection was made between. */
  boundA: number;
  boundB: number;
  /** Bumped by every reset: envelopes sent on an older connection are dropped on arrival. */
  epoch: number;
  check: Timer | undefined;
  /** When the connection was reset, oldest first. */
  readonly resets: number[];
  /** When the pair became healthy or unhealthy: [time, healthy], oldest first. */
  readonly health: Array<readonly [number, boolean]>;
}

export class SimNetwork {
  readonly #options: NetworkOptions;
  readonly #scheduler: VirtualScheduler;
  readonly #prng: Prng;
  readonly #counters: Counters;
  #rates: LinkFaultRates;
  readonly #endpoints = new Map<string, Endpoint>();
  readonly #links = new Map<string, Link>();
  readonly #pairs = new Map<string, Pair>();

  constructor(scheduler: VirtualScheduler, prng: Prng, counters: Counters, options: NetworkOptions, rates: LinkFaultRates) {
    this.#scheduler = scheduler;
    this.#prng = prng;
    this.#counters = counters;
    this.#options = options;
    this.#rates = rates;
  }

  /** The transport of a new incarnation of `node` (which replaces any earlier one). */
  attach(node: string, incarnation: number, env: NodeEnv): SimTransport {
    const endpoint = new Endpoint(node, incarnation, env);
    for (const other of this.#endpoints.keys()) {
      if (other === node || this.#pairs.has(pairKey(node, other))) continue;
      const [a, b] = node < other ? [node, other] : [other, node];
      this.#pairs.set(pairKey(a, b), { a, b, state: 'up', boundA: 0, boundB: 0, epoch: 0, check: undefined, resets: [], health: [[this.#scheduler.now, true]] });
      this.#links.set(`${a}>${b}`, this.#newLink(a, b));
      this.#links.set(`${b}>${a}`, this.#newLink(b, a));
    }
    this.#endpoints.set(node, endpoint);
    for (const pair of this.#pairs.values()) {
      if (pair.a !== node && pair.b !== node) continue;
      if (pair.boundA === 0 && pair.boundB === 0) this.#bind(pair);
      else this.#evaluate(pair);
    }
    return new SimTransport(this, endpoint);
  }

  /** The current incarnation on `node` died: it sends and receives nothing more. */
  crash(node: string): void {
    const endpoint = this.#endpoints.get(node);
    if (endpoint !== undefined) this.close(endpoint);
  }

  /** `endpoint` is gone (its process crashed or closed its transport). */
  close(endpoint: Endpoint): void {
    if (!endpoint.alive || this.#endpoints.get(endpoint.node) !== endpoint) return;
    endpoint.alive = false;
    const node = endpoint.node;
    for (const pair of this.#pairsOf(node)) {
      this.#evaluate(pair);
      const other = pair.a === node ? pair.b : pair.a;
      const link = this.#link(node, other);
      if (link.blocks > 0 || pair.state !== 'suspect') continue;
      // The OS closes the dead process's sockets: the peer hears the reset one latency later.
      const epoch = pair.epoch;
      this.#scheduler.after(this.#latency(link), () => {
        if (pair.epoch === epoch && pair.state === 'suspect') this.#reset(pair, 'connection-reset');
      }, `net ${node}>${other} reset`);
    }
  }

  /** Re-reads whether `node` is paused (its NodeEnv says) after a pause or resume. */
  pausedChanged(node: string): void {
    for (const pair of this.#pairsOf(node)) this.#evaluate(pair);
  }

  /** Starts blocking `from` → `to` (blocks nest: each needs its own unblock). */
  block(from: string, to: string): void {
    this.#link(from, to).blocks++;
    this.#evaluate(this.#pair(from, to));
  }

  unblock(from: string, to: string): void {
    const link = this.#link(from, to);
    if (link.blocks === 0) return;
    link.blocks--;
    this.#evaluate(this.#pair(from, to));
    if (link.blocks === 0) this.#drain(link);
  }

  setSlow(from: string, to: string, factor: number): void {
    this.#link(from, to).slowFactor = factor;
  }

  setRates(rates: LinkFaultRates): void {
    this.#rates = rates;
  }

  /** Lifts every partition and slow link. */
  healAll(): void {
    for (const link of this.#links.values()) {
      link.slowFactor = 1;
      if (link.blocks === 0) continue;
      link.blocks = 0;
      this.#evaluate(this.#pair(link.from, link.to));
      this.#drain(link);
    }
  }

  /** When the connection between `a` and `b` was reset (both ends then heard peerDown), for checkers. */
  connectionResets(a: string, b: string): readonly number[] {
    return this.#pair(a, b).resets;
  }

  /** Whether `a` and `b` could hear each other (both up and running, no partition) all through [from, to]. */
  healthyThroughout(a: string, b: string, from: number, to: number): boolean {
    const health = this.#pair(a, b).health;
    let healthy = true;
    for (const [at, healthyFromThen] of health) {
      if (at > to) break;
      if (at <= from) healthy = healthyFromThen;
      else if (!healthyFromThen) return false;
    }
    return healthy;
  }

  /** Whether `a` and `b` are cut off from each other now (after a reset, until they are healthy again). */
  isDown(a: string, b: string): boolean {
    return this.#pair(a, b).state === 'down';
  }

  /** Whether `a` and `b` have a working connection now: neither reset nor suspected. */
  isConnected(a: string, b: string): boolean {
    return this.#pairs.get(pairKey(a, b))?.state === 'up';
  }

  /** The worst one-way delay an envelope can see on a slow link (no partition, not reordered). */
  get maxLatencyMs(): number {
    return 1.5 * this.#options.maxLatencyMs * MAX_SLOW_FACTOR;
  }

  // ── Used by SimTransport ─────────────────────────────────────────────────

  reachable(from: Endpoint, to: string): boolean {
    const pair = this.#pairs.get(pairKey(from.node, to));
    return pair !== undefined && pair.state !== 'down';
  }

  send(from: Endpoint, to: string, envelope: Envelope): void {
    if (!from.alive) return;
    const pair = this.#pairs.get(pairKey(from.node, to));
    if (pair === undefined || pair.state === 'down') {
      this.#counters.inc('net.refused');
      return;
    }
    let copy: Envelope;
    try {
      copy = structuredClone(envelope);
    } catch (error) {
      throw new UltraError('InvalidArgument', `envelope for ${to} cannot cross the network: ${UltraError.from(error).message}`);
    }
    this.#counters.inc('net.sent');
    if (this.#draw(this.#rates.loss)) {
      this.#counters.inc(faultCounter('loss'));
      return;
    }
    const link = this.#link(from.node, to);
    this.#transmit(link, pair, copy);
    if (this.#draw(this.#rates.duplicate)) {
      this.#counters.inc(faultCounter('duplicate'));
      this.#transmit(link, pair, structuredClone(copy));
    }
  }

  setHandler(endpoint: Endpoint, handler: TransportHandler): void {
    endpoint.handler = handler;
  }

  watchPeers(endpoint: Endpoint, listener: (change: PeerStatusChange) => void): void {
    endpoint.peerStatus = listener;
  }

  // ── Internals ────────────────────────────────────────────────────────────

  #transmit(link: Link, pair: Pair, envelope: Envelope): void {
    const now = this.#scheduler.now;
    let arrival: number;
    if (this.#draw(this.#rates.reorder)) {
      // Out of order: anywhere from almost at once to five latencies, overtaking or overtaken.
      arrival = now + 5 * this.#prng.next() * this.#latency(link);
    } else {
      arrival = Math.max(now + this.#latency(link), link.lastArrival);
      link.lastArrival = arrival;
    }
    const epoch = pair.epoch;
    const sent = ++link.sent;
    this.#scheduler.after(arrival - now, () => this.#arrive(link, pair, epoch, sent, envelope), `net ${link.from}>${link.to} ${describe(envelope)}`);
  }

  #arrive(link: Link, pair: Pair, epoch: number, sent: number, envelope: Envelope): void {
    // The reorder fault has fired when an envelope arrives after one sent later on its link.
    if (sent < link.highestArrived) this.#counters.inc(faultCounter('reorder'));
    link.highestArrived = Math.max(link.highestArrived, sent);
    if (pair.epoch !== epoch) {
      this.#counters.inc('net.dropped-by-reset');
      return;
    }
    if (link.blocks > 0 || link.held.length > 0) {
      link.held.push(envelope);
      this.#counters.inc('net.held-by-partition');
      return;
    }
    this.#deliver(link, pair, envelope);
  }

  #deliver(link: Link, pair: Pair, envelope: Envelope): void {
    const endpoint = this.#endpoints.get(link.to);
    const bound = pair.a === link.to ? pair.boundA : pair.boundB;
    if (endpoint === undefined || !endpoint.alive || endpoint.incarnation !== bound) {
      this.#counters.inc('net.dropped-dead-peer');
      return;
    }
    this.#counters.inc('net.delivered');
    endpoint.env.run(() => endpoint.handler?.envelope(link.from, envelope));
  }

  /** After a partition lifts, the held envelopes arrive together, one latency later, in order. */
  #drain(link: Link): void {
    if (link.held.length === 0 || link.draining) return;
    link.draining = true;
    const pair = this.#pair(link.from, link.to);
    const epoch = pair.epoch;
    this.#scheduler.after(this.#latency(link), () => {
      link.draining = false;
      if (pair.epoch !== epoch || link.blocks > 0) return;
      const held = link.held;
      link.held = [];
      for (const envelope of held) this.#deliver(link, pair, envelope);
    }, `net ${link.from}>${link.to} retransmit`);
  }

  #healthy(pair: Pair): boolean {
    const a = this.#endpoints.get(pair.a);
    const b = this.#endpoints.get(pair.b);
    return (
      a !== undefined && b !== undefined && a.alive && b.alive && !a.env.paused && !b.env.paused &&
      this.#link(pair.a, pair.b).blocks === 0 && this.#link(pair.b, pair.a).blocks === 0
    );
  }

  #current(pair: Pair): boolean {
    return pair.boundA === this.#endpoints.get(pair.a)?.incarnation && pair.boundB === this.#endpoints.get(pair.b)?.incarnation;
  }

  /** Moves the pair's failure-detector state on after anything that may change its health. */
  #evaluate(pair: Pair): void {
    const healthy = this.#healthy(pair);
    if (pair.health.at(-1)?.[1] !== healthy) pair.health.push([this.#scheduler.now, healthy]);
    switch (pair.state) {
      case 'up':
        if (!healthy) this.#suspect(pair);
        return;
      case 'suspect':
        if (!healthy) return;
        // Heard again. A restarted peer is a new connection: the old one is reset first.
        if (!this.#current(pair)) {
          this.#reset(pair, 'restarted');
          return;
        }
        pair.check?.cancel();
        pair.state = 'up';
        this.#drain(this.#link(pair.a, pair.b));
        this.#drain(this.#link(pair.b, pair.a));
        this.#announceUp(pair);
        return;
      case 'down':
        if (healthy) this.#bind(pair);
        return;
    }
  }

  #suspect(pair: Pair): void {
    pair.state = 'suspect';
    const epoch = pair.epoch;
    pair.check = this.#scheduler.after(this.#options.detectionTimeoutMs, () => {
      if (pair.state === 'suspect' && pair.epoch === epoch) this.#reset(pair, 'unreachable');
    }, `fd ${pair.a}|${pair.b} timeout`);
  }

  /** Tears the connection down: held envelopes are lost, and each end still on it hears peerDown. */
  #reset(pair: Pair, reason: ResetReason): void {
    pair.epoch++;
    pair.check?.cancel();
    pair.resets.push(this.#scheduler.now);
    this.#counters.inc('net.connection-resets');
    for (const link of [this.#link(pair.a, pair.b), this.#link(pair.b, pair.a)]) {
      this.#counters.inc('net.dropped-by-reset', link.held.length);
      link.held = [];
    }
    for (const [self, other, bound] of [[pair.a, pair.b, pair.boundA], [pair.b, pair.a, pair.boundB]] as const) {
      const endpoint = this.#endpoints.get(self);
      if (endpoint === undefined || !endpoint.alive || endpoint.incarnation !== bound) continue;
      this.#counters.inc('net.peer-down-reports');
      endpoint.env.run(() => {
        endpoint.handler?.peerDown(other);
        endpoint.peerStatus?.({ node: other, status: 'down', reason });
      });
    }
    if (this.#healthy(pair)) this.#bind(pair);
    else pair.state = 'down';
  }

  /** A new connection between the current incarnations. */
  #bind(pair: Pair): void {
    pair.boundA = this.#endpoints.get(pair.a)?.incarnation ?? 0;
    pair.boundB = this.#endpoints.get(pair.b)?.incarnation ?? 0;
    pair.state = 'up';
    this.#announceUp(pair);
  }

  /** Tells both (live) ends that their connection works. */
  #announceUp(pair: Pair): void {
    for (const [self, other] of [[pair.a, pair.b], [pair.b, pair.a]] as const) {
      const endpoint = this.#endpoints.get(self);
      if (endpoint === undefined || !endpoint.alive || endpoint.peerStatus === undefined) continue;
      endpoint.env.run(() => endpoint.peerStatus?.({ node: other, status: 'up' }));
    }
  }

  #latency(link: Link): number {
    return link.baseLatencyMs * (0.5 + this.#prng.next()) * link.slowFactor;
  }

  #draw(probability: number): boolean {
    return probability > 0 && this.#prng.next() < probability;
  }

  #newLink(from: string, to: string): Link {
    const { minLatencyMs, maxLatencyMs } = this.#options;
    const baseLatencyMs = minLatencyMs + (maxLatencyMs - minLatencyMs) * this.#prng.next();
    return { from, to, baseLatencyMs, blocks: 0, slowFactor: 1, held: [], draining: false, lastArrival: 0, sent: 0, highestArrived: 0 };
  }

  #link(from: string, to: string): Link {
    const link = this.#links.get(`${from}>${to}`);
    if (link === undefined) throw new UltraError('NotFound', `no simulated link ${from} → ${to}`);
    return link;
  }

  #pair(a: string, b: string): Pair {
    const pair = this.#pairs.get(pairKey(a, b));
    if (pair === undefined) throw new UltraError('NotFound', `no simulated link between ${a} and ${b}`);
    return pair;
  }

  #pairsOf(node: string): Pair[] {
    return [...this.#pairs.values()].filter((p) => p.a === node || p.b === node);
  }
}

/** The slowest a slow link gets, as a multiple of its normal latency. */
export const MAX_SLOW_FACTOR = 8;

/** One node incarnation's view of the simulated network. */
export class SimTransport implements Transport {
  readonly localNode: string;
  readonly #network: SimNetwork;
  readonly #endpoint: Endpoint;

  constructor(network: SimNetwork, endpoint: Endpoint) {
    this.#network = network;
    this.#endpoint = endpoint;
    this.localNode = endpoint.node;
  }

  reaches(node: string): boolean {
    return node !== this.localNode && this.#network.reachable(this.#endpoint, node);
  }

  send(node: string, envelope: Envelope): void {
    this.#network.send(this.#endpoint, node, envelope);
  }

  setHandler(handler: TransportHandler): void {
    this.#network.setHandler(this.#endpoint, handler);
  }

  /** Whether the connection to `node` works now (formed, not reset, not suspected). */
  connected(node: string): boolean {
    return node !== this.localNode && this.#network.isConnected(this.localNode, node);
  }

  /** Reports this incarnation's connections forming and being reset (one listener; a later call replaces it). */
  watchPeers(listener: (change: PeerStatusChange) => void): void {
    this.#network.watchPeers(this.#endpoint, listener);
  }

  /** A graceful close looks like a crash to the peers: the connection closes, they hear peerDown. */
  async close(): Promise<void> {
    this.#network.close(this.#endpoint);
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

function describe(e: Envelope): string {
  switch (e.k) {
    case 'tell': {
      const type = (e.msg as { type?: unknown } | null)?.type;
      return `${e.reply === undefined ? 'tell' : 'ask'}:${typeof type === 'string' ? type : '?'}`;
    }
    case 'reply':
      return e.reply.ok ? 'reply:ok' : `reply:${e.reply.error.code}`;
    default:
      return e.k;
  }
}
