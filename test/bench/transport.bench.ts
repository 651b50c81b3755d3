// Cluster transport benchmarks between two processes on loopback: remote tell throughput and ask
// round trips over the libp2p transport (pnet + noise + yamux), beside a plain node:net TCP
// connection that carries the same frames with the same coalescing (PeerOutbox) and the same
// envelope checks (NetTransport, below), so the gap is what libp2p itself costs; and the libp2p
// transport with its TLS fast path on (envelopes over TLS 1.3, liveness over libp2p), the same
// pair of figures again. Also: how long a 3-node libp2p cluster takes to form. Each figure is the median of RUNS runs after one warm-up.
// Run: node --expose-gc test/bench/transport.bench.ts   (this file is also the child process)
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorSystem, type ActorRef } from '../../runtime/actors/index.ts';
import { Codec } from '../../runtime/codec/codec.ts';
import { FrameDecoder } from '../../runtime/codec/frame-decoder.ts';
import { realEnv } from '../../runtime/env/real-env.ts';
import { ClusterRouter } from '../../transports/cluster-router.ts';
import { createClusterKeyFile, loadClusterKeyFile } from '../../transports/libp2p/cluster-key.ts';
import { EnvelopeValidator } from '../../transports/libp2p/envelope-validator.ts';
import { loadOrCreateNodeIdentity } from '../../transports/libp2p/identity.ts';
import { Libp2pTransport, type Libp2pTransportOptions } from '../../transports/libp2p/libp2p-transport.ts';
import { PeerOutbox, type OutboxLimits } from '../../transports/libp2p/peer-outbox.ts';
import type { Envelope, Transport, TransportHandler } from '../../transports/transport.ts';
import { counter, type CounterMsg } from '../support/worker-actors.ts';
import { median, percentile, report, type BenchRow, collectGarbage, repeatRuns } from './report.ts';

const RUNS = Number(process.env.RUNS ?? 5);
const TELLS = 300_000;
/** Tells per event-loop turn: what a busy node sends between two looks at its sockets. */
const TELLS_PER_TURN = 10_000;
const ASKS = 2_000;
const MAX_FRAME_BYTES = 4 * 1024 * 1024;
/**
 * Queue bounds high enough that a blast of TELLS never hits them on either transport: this
 * measures throughput, not the drop policy (both use the same PeerOutbox).
 */
const LIMITS: OutboxLimits = { maxBatchEnvelopes: 4096, maxQueuedBytes: 512 * 1024 * 1024, maxQueuedEnvelopes: 2 * TELLS };
const env = realEnv();

/** libp2p: envelopes over libp2p; tls: the libp2p transport with its TLS fast path; net: NetTransport. */
type Kind = 'libp2p' | 'tls' | 'net';
const FAST_PATH = { host: '127.0.0.1', port: 0 } as const;

/** What the child reports once it serves: where to reach it and the counter it hosts. */
interface ChildHello {
  readonly node: string;
  /** libp2p and tls: its multiaddr; net: its TCP port. */
  readonly address: string;
  readonly counter: ActorRef<CounterMsg>;
}

// ── The node:net peer ──────────────────────────────────────────────────────

/**
 * A Transport over one TCP socket to one peer: length-prefixed MessagePack frames of coalesced
 * envelopes, exactly as the libp2p transport writes them, checked the same way on arrival; but no
 * encryption, authentication, multiplexing or liveness.
 */
class NetTransport implements Transport {
  readonly localNode: string;
  readonly #peerNode: string;
  readonly #outbox: PeerOutbox;
  readonly #validator: EnvelopeValidator;
  #handler: TransportHandler | undefined;

  constructor(socket: Socket, localNode: string, peerNode: string) {
    this.localNode = localNode;
    this.#peerNode = peerNode;
    socket.setNoDelay(true);
    const codec = new Codec({ maxFrameBytes: MAX_FRAME_BYTES });
    this.#validator = new EnvelopeValidator(localNode);
    this.#outbox = new PeerOutbox(codec, LIMITS, {
      frameWritten: () => {},
      dropped: (reason) => {
        throw new Error(`net transport dropped an envelope: ${reason}`);
      },
    });
    this.#outbox.attach({
      write: (frame) => socket.write(frame),
      onDrain: () =>
        new Promise<void>((resolve, reject) => {
          const drained = () => {
            socket.off('close', closed);
            resolve();
          };
          const closed = () => {
            socket.off('drain', drained);
            reject(new Error('socket closed'));
          };
          socket.once('drain', drained);
          socket.once('close', closed);
        }),
      get bufferedBytes() {
        return socket.writableLength;
      },
    });
    const decoder = new FrameDecoder({ maxFrameBytes: MAX_FRAME_BYTES, codec });
    socket.on('data', (chunk: Buffer) => {
      for (const body of decoder.push(chunk).values) {
        for (const value of body as unknown[]) {
          if (this.#validator.check(value, peerNode) === undefined) this.#handler?.envelope(peerNode, value as Envelope);
        }
      }
    });
  }

  reaches(node: string): boolean {
    return node === this.#peerNode;
  }

  send(_node: string, envelope: Envelope): void {
    this.#outbox.push(envelope);
  }

  setHandler(handler: TransportHandler): void {
    this.#handler = handler;
  }

  async close(): Promise<void> {}
}

// ── Child process ──────────────────────────────────────────────────────────

/** Serves a counter over the given transport kind until the parent disconnects. */
async function runChild(kind: Kind, dataDir: string, keyPath: string, parent: string): Promise<void> {
  const identity = await loadOrCreateNodeIdentity(dataDir, env);
  const system = new ActorSystem({ nodeId: identity.nodeId, env });
  const router = new ClusterRouter(system);
  const ref = system.spawn(counter, { name: 'counter', mailbox: { capacity: 2 * TELLS } });
  let address: string;
  if (kind !== 'net') {
    const fastPath = kind === 'tls' ? { fastPath: FAST_PATH } : {};
    const transport = await Libp2pTransport.start({ env, identity, clusterKey: await loadClusterKeyFile(keyPath), peers: [parent], ...LIMITS, maxFrameBytes: MAX_FRAME_BYTES, ...fastPath });
    router.addTransport(transport);
    address = transport.listenAddresses[0]!;
  } else {
    const server = createServer((socket) => router.addTransport(new NetTransport(socket, identity.nodeId, parent)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    address = String((server.address() as { port: number }).port);
  }
  const hello: ChildHello = { node: identity.nodeId, address, counter: ref };
  process.send!(hello);
  process.once('disconnect', () => process.exit(0));
}

// ── Parent ─────────────────────────────────────────────────────────────────

interface Pair {
  readonly system: ActorSystem;
  readonly counter: ActorRef<CounterMsg>;
  stop(): Promise<void>;
}

/** This process and a child, connected by `kind`. */
async function pair(kind: Kind, dir: string, keyPath: string): Promise<Pair> {
  const identity = await loadOrCreateNodeIdentity(join(dir, 'parent'), env);
  const system = new ActorSystem({ nodeId: identity.nodeId, env });
  const router = new ClusterRouter(system);
  let transport: Libp2pTransport | undefined;
  if (kind !== 'net') {
    const fastPath = kind === 'tls' ? { fastPath: FAST_PATH } : {};
    transport = await Libp2pTransport.start({ env, identity, clusterKey: await loadClusterKeyFile(keyPath), ...LIMITS, maxFrameBytes: MAX_FRAME_BYTES, ...fastPath });
    router.addTransport(transport);
  }
  const parentAddress = transport?.listenAddresses[0] ?? identity.nodeId;
  const child: ChildProcess = fork(new URL(import.meta.url), ['child', kind, join(dir, 'child'), keyPath, parentAddress], { stdio: 'inherit' });
  const [hello] = (await once(child, 'message')) as [ChildHello];
  let socket: Socket | undefined;
  if (transport !== undefined) {
    transport.addPeer(hello.address);
    const route = kind === 'tls' ? 'tls' : 'libp2p';
    while (transport.peerStatus(hello.node) !== 'up' || transport.peerRoute(hello.node) !== route) await new Promise((r) => setTimeout(r, 5));
  } else {
    socket = connect(Number(hello.address), '127.0.0.1');
    await once(socket, 'connect');
    router.addTransport(new NetTransport(socket, identity.nodeId, hello.node));
  }
  return {
    system,
    counter: hello.counter,
    async stop() {
      await transport?.close();
      socket?.destroy();
      child.disconnect();
      await once(child, 'exit');
      await system.shutdown();
    },
  };
}

/** Tells to the child's counter, TELLS_PER_TURN per turn; msgs/s until its count confirms them all. */
async function tellThroughput({ system, counter: ref }: Pair): Promise<number> {
  const before = await system.ask(ref, { type: 'get' }, { timeoutMs: 60_000 });
  const t0 = performance.now();
  for (let i = 0; i < TELLS; i++) {
    system.tell(ref, { type: 'inc', by: 1 });
    if (i % TELLS_PER_TURN === TELLS_PER_TURN - 1) await new Promise((r) => setImmediate(r));
  }
  const after = await system.ask(ref, { type: 'get' }, { timeoutMs: 60_000 });
  const seconds = (performance.now() - t0) / 1000;
  if (after - before !== TELLS) throw new Error(`counted ${after - before} of ${TELLS} tells`);
  return TELLS / seconds;
}

/** Sequential asks to the child's counter: per-ask round trip in microseconds. */
async function askLatencies({ system, counter: ref }: Pair): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < ASKS; i++) {
    const t0 = performance.now();
    await system.ask(ref, { type: 'get' }, { timeoutMs: 5_000 });
    samples.push((performance.now() - t0) * 1000);
  }
  return samples;
}

/** Milliseconds from starting three libp2p transports until each sees both others up. */
async function clusterFormation(dir: string, keyPath: string): Promise<number> {
  const clusterKey = await loadClusterKeyFile(keyPath);
  const identities = await Promise.all([0, 1, 2].map((i) => loadOrCreateNodeIdentity(join(dir, `formation-${i}`), env)));
  const options: Omit<Libp2pTransportOptions, 'identity'> = { env, clusterKey };
  const t0 = performance.now();
  const nodes = await Promise.all(identities.map((identity) => Libp2pTransport.start({ ...options, identity })));
  const allUp = Promise.all(
    nodes.flatMap((a) =>
      nodes
        .filter((b) => b !== a)
        .map((b) => new Promise<void>((resolve) => a.onPeerStatus((change) => change.node === b.localNode && change.status === 'up' && resolve()))),
    ),
  );
  for (const a of nodes) for (const b of nodes) if (a !== b) a.addPeer(b.listenAddresses[0]!);
  await allUp;
  const ms = performance.now() - t0;
  await Promise.all(nodes.map((node) => node.close()));
  return ms;
}


const repeat = <T>(fn: () => Promise<T>): Promise<T[]> => repeatRuns(RUNS, fn);

export async function runTransportBenches(): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'uc-transport-bench-'));
  try {
    const keyPath = join(dir, 'cluster-key');
    await createClusterKeyFile(keyPath, env);
    // Both pairs stay up and take turns, run by run, so that whatever else the machine is doing
    // falls on both alike.
    const kinds = ['libp2p', 'tls', 'net'] as const;
    const pairs = { libp2p: await pair('libp2p', dir, keyPath), tls: await pair('tls', dir, keyPath), net: await pair('net', dir, keyPath) };
    const results = Object.fromEntries(kinds.map((kind) => [kind, { tells: [] as number[], asks: [] as number[][] }])) as Record<Kind, { tells: number[]; asks: number[][] }>;
    for (let run = 0; run <= RUNS; run++) {
      for (const kind of kinds) {
        collectGarbage();
        const tells = await tellThroughput(pairs[kind]);
        collectGarbage();
        const asks = await askLatencies(pairs[kind]);
        // Run 0 is the warm-up.
        if (run > 0) {
          results[kind].tells.push(tells);
          results[kind].asks.push(asks);
        }
      }
    }
    for (const kind of kinds) await pairs[kind].stop();
    const tell = { ours: median(results.libp2p.tells), peer: median(results.net.tells) };
    const tlsTell = { ours: median(results.tls.tells), peer: median(results.net.tells) };
    const q = (kind: Kind, pct: number) => median(results[kind].asks.map((samples) => percentile(samples, pct)));
    const formation = median(await repeat(() => clusterFormation(dir, keyPath)));
    return [
      { metric: 'remote tell throughput, 2 processes (msg/s)', ...tell, peerName: 'node:net', ratio: tell.ours / tell.peer, goal: '≥ 300 k/s, ≥ 0.5× net' },
      { metric: 'remote ask round trip p50 (µs)', ours: q('libp2p', 50), peer: q('net', 50), peerName: 'node:net', ratio: q('net', 50) / q('libp2p', 50), goal: '< 2× net' },
      { metric: 'remote ask round trip p99 (µs)', ours: q('libp2p', 99), peer: q('net', 99), peerName: 'node:net', ratio: q('net', 99) / q('libp2p', 99) },
      { metric: 'remote tell throughput, libp2p + TLS fast path (msg/s)', ...tlsTell, peerName: 'node:net', ratio: tlsTell.ours / tlsTell.peer, goal: '≥ 300 k/s, ≥ 0.5× net' },
      { metric: 'remote ask round trip p50, libp2p + TLS fast path (µs)', ours: q('tls', 50), peer: q('net', 50), peerName: 'node:net', ratio: q('net', 50) / q('tls', 50), goal: '< 2× net' },
      { metric: 'remote ask round trip p99, libp2p + TLS fast path (µs)', ours: q('tls', 99), peer: q('net', 99), peerName: 'node:net', ratio: q('net', 99) / q('tls', 99) },
      { metric: '3-node cluster formation, in one process (ms)', ours: formation },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const [role, kind, dataDir, keyPath, parent] = process.argv.slice(2);
  if (role === 'child') await runChild(kind as Kind, dataDir!, keyPath!, parent!);
  else report('cluster transport', await runTransportBenches());
}
