// The TLS fast path under the libp2p transport: envelopes between two nodes that both have it on
// travel over TLS (tell, ask, death-watch), links that fail authentication either way are refused
// and counted, a killed link comes back and later tells arrive in order, and a node with the fast
// path still talks over libp2p to a node without it.
import { spawnWatcher } from '../support/watcher.ts';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, describe, expect, it } from 'vitest';
import { defineActor, type ActorRef, type AnyRef, type Query, type Terminated } from '../../runtime/actors/index.ts';
import { loadClusterKeyFile } from '../../transports/libp2p/cluster-key.ts';
import type { Libp2pTransportOptions } from '../../transports/libp2p/libp2p-transport.ts';
import { ACTOR_PROTOCOL, fastPathFrame, HEARTBEAT_FRAME } from '../../transports/libp2p/wire-format.ts';
import { nodeCertificate } from '../../transports/tls/node-certificate.ts';
import { dialTls, listenTls, type TlsListener } from '../../transports/tls/tls-link.ts';
import { counter, type CounterMsg } from '../support/worker-actors.ts';
import { env, mesh, meshUp, sleep, TestCluster, waitUntil, type TestNode } from './libp2p-test-nodes.ts';

const FAST_PATH = { fastPath: { host: '127.0.0.1', port: 0 } } as const satisfies Partial<Libp2pTransportOptions>;

let cluster: TestCluster;
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await cluster.cleanup();
});

async function pairOf(optionsA: Partial<Libp2pTransportOptions>, optionsB: Partial<Libp2pTransportOptions>): Promise<[TestNode, TestNode]> {
  cluster = await TestCluster.create();
  const key = await cluster.clusterKey();
  const nodes: [TestNode, TestNode] = [await cluster.node('a', key, optionsA), await cluster.node('b', key, optionsB)];
  mesh(nodes);
  await meshUp(nodes);
  return nodes;
}

/** Resolves once each node has its fast-path route to the other. */
async function routedOverTls(a: TestNode, b: TestNode): Promise<void> {
  await waitUntil(
    () => a.transport.peerRoute(b.identity.nodeId) === 'tls' && b.transport.peerRoute(a.identity.nodeId) === 'tls',
    5_000,
    'fast-path routes',
  );
}

type SeqMsg = { type: 'add'; n: number } | ({ type: 'list' } & Query<number[]>);
/** Records the numbers it is told, in arrival order. */
const recorder = defineActor<number[], SeqMsg>({
  init: () => [],
  receive(state, msg, ctx) {
    if (msg.type === 'add') state.push(msg.n);
    else ctx.reply(msg, [...state]);
    return state;
  },
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** A TCP relay to `target` whose connections a test can cut. */
async function relay(): Promise<{ port: number; target: { port: number }; connections: number; cut(): void }> {
  const sockets = new Set<Socket>();
  const state = {
    port: 0,
    target: { port: 0 },
    connections: 0,
    cut() {
      for (const socket of sockets) socket.destroy();
    },
  };
  const server: Server = createServer((client) => {
    state.connections++;
    const upstream = connect(state.target.port, '127.0.0.1');
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from);
      from.on('error', () => to.destroy());
      from.on('close', () => {
        sockets.delete(from);
        to.destroy();
      });
      from.pipe(to);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.port = (server.address() as { port: number }).port;
  closers.push(async () => {
    state.cut();
    await new Promise((resolve) => server.close(resolve));
  });
  return state;
}

describe('libp2p transport: TLS fast path', () => {
  it('carries tells, asks and death-watch over TLS when both nodes have it on', async () => {
    const [a, b] = await pairOf(FAST_PATH, FAST_PATH);
    await routedOverTls(a, b);
    const remote: ActorRef<CounterMsg> = b.system.spawn(counter, { name: 'c' });
    for (let i = 1; i <= 1000; i++) a.system.tell(remote, { type: 'inc', by: i });
    expect(await a.system.ask(remote, { type: 'get' }, { timeoutMs: 5_000 })).toBe(500_500);
    // Every envelope either way went over TLS, none over libp2p.
    expect(a.transport.stats().fastPathEnvelopesSent).toBe(a.transport.stats().envelopesSent);
    expect(a.transport.stats().fastPathEnvelopesSent).toBeGreaterThanOrEqual(1001);
    expect(b.transport.stats().fastPathEnvelopesReceived).toBe(a.transport.stats().fastPathEnvelopesSent);
    expect(b.transport.stats().fastPathEnvelopesSent).toBeGreaterThanOrEqual(1);
    expect(a.system.metrics.expose()).toMatch(/ultracloud_libp2p_fast_path_envelopes_sent_total [1-9]/);

    const { ref: watcher, seen } = spawnWatcher(a.system);
    a.system.tell(watcher, { type: 'watch', ref: remote as AnyRef });
    expect(await a.system.ask(remote, { type: 'get' }, { timeoutMs: 5_000 })).toBe(500_500);
    await b.system.stop(remote);
    await waitUntil(() => seen.length > 0, 5_000, 'Terminated(stopped)');
    expect(seen).toEqual([{ type: 'terminated', ref: remote, reason: 'stopped' }]);

    const other = b.system.spawn(counter, { name: 'other' });
    a.system.tell(watcher, { type: 'watch', ref: other as AnyRef });
    expect(await a.system.ask(other, { type: 'get' }, { timeoutMs: 5_000 })).toBe(0);
    const t0 = env.monotonicNow();
    await b.transport.close();
    await waitUntil(() => seen.length > 1, 5_000, 'Terminated(node-down)');
    expect(env.monotonicNow() - t0).toBeLessThan(2_000);
    expect(seen[1]).toEqual({ type: 'terminated', ref: other, reason: 'node-down' });
    expect(a.transport.stats().rejected).toEqual(b.transport.stats().rejected);
    expect(Object.values(a.transport.stats().rejected).every((n) => n === 0)).toBe(true);
  });

  it('refuses a TLS client not on the allow-list, or without the cluster key', async () => {
    const [a, b] = await pairOf(FAST_PATH, FAST_PATH);
    await routedOverTls(a, b);
    const address = a.transport.fastPathAddress!;
    const refusedBefore = a.transport.stats().refusedConnections;

    // The right cluster key, but an identity a does not know.
    const key = await loadClusterKeyFile(join(cluster.root, 'cluster-key'));
    const stranger = await cluster.identity('stranger');
    // TLS 1.3 finishes the client's side first; the server's verdict is the link closing at once.
    const strangers = await dialTls(address, a.identity.nodeId, { certificate: nodeCertificate(stranger), clusterKey: key }, env);
    await once(strangers, 'close');
    expect(a.transport.stats().refusedConnections).toBe(refusedBefore + 1);

    // b's own identity, but another cluster key.
    const otherKey = await cluster.clusterKey('other-key');
    const impostor = await dialTls(address, a.identity.nodeId, { certificate: nodeCertificate(b.identity), clusterKey: otherKey }, env);
    impostor.write(new Uint8Array([0, 0, 0, 1, 0x90]));
    await once(impostor, 'close');
    expect(a.transport.stats().refusedConnections).toBe(refusedBefore + 2);
    expect(a.transport.stats().framesReceived).toBe(0);
  });

  it('refuses a fast path whose certificate is not the advertising peer', async () => {
    cluster = await TestCluster.create();
    const key = await cluster.clusterKey();
    const a = await cluster.node('a', key, FAST_PATH);
    // "b" advertises an endpoint where a third node's TLS server answers.
    const bIdentity = await cluster.identity('b');
    const b = await cluster.rawNode(bIdentity, key);
    await b.handle(ACTOR_PROTOCOL, () => {});
    const impostor: TlsListener = await listenTls(
      { host: '127.0.0.1', port: 0 },
      { certificate: nodeCertificate(await cluster.identity('c')), clusterKey: key },
      (socket) => socket.destroy(),
      () => {},
    );
    closers.push(() => impostor.close());
    a.transport.addPeer(b.getMultiaddrs()[0]!.toString());
    const stream = await b.dialProtocol(multiaddr(a.transport.listenAddresses[0]!), ACTOR_PROTOCOL);
    stream.send(fastPathFrame('127.0.0.1', impostor.address.port));
    stream.send(HEARTBEAT_FRAME);
    await waitUntil(() => a.transport.stats().refusedConnections >= 1, 5_000, 'outbound fast path refused');
    expect(a.transport.peerRoute(bIdentity.nodeId)).toBe('tls');
    const target: ActorRef<CounterMsg> = { node: bIdentity.nodeId, path: '/user/c', uid: 1 };
    a.system.tell(target, { type: 'inc', by: 1 });
    await sleep(100);
    expect(a.transport.stats().fastPathEnvelopesSent).toBe(0);
    expect(a.transport.stats().envelopesSent).toBe(0);
  });

  it('reconnects a killed TLS link, and tells sent after it arrive in order', async () => {
    const cut = await relay();
    const [a, b] = await pairOf(FAST_PATH, { fastPath: { ...FAST_PATH.fastPath, advertise: { host: '127.0.0.1', port: cut.port } } });
    cut.target.port = b.transport.fastPathAddress!.port;
    await routedOverTls(a, b);
    const seq: ActorRef<SeqMsg> = b.system.spawn(recorder, { name: 'seq' });
    for (const n of range(1, 100)) a.system.tell(seq, { type: 'add', n });
    expect(await a.system.ask(seq, { type: 'list' }, { timeoutMs: 5_000 })).toEqual(range(1, 100));
    // a may have dialled the relay before it knew where b listens: count from here.
    const linked = cut.connections;

    cut.cut();
    await waitUntil(() => cut.connections === linked + 1, 5_000, 'fast path redialled');
    for (const n of range(101, 200)) a.system.tell(seq, { type: 'add', n });
    expect(await a.system.ask(seq, { type: 'list' }, { timeoutMs: 5_000 })).toEqual(range(1, 200));
    // Still over TLS, and the peers never went down: liveness is libp2p's business.
    expect(a.transport.stats().fastPathEnvelopesSent).toBe(a.transport.stats().envelopesSent);
    expect(a.transport.peerStatus(b.identity.nodeId)).toBe('up');
  });

  it('keeps heartbeats going while envelopes wait for a fast path that cannot be reached', async () => {
    // A port nothing listens on: b advertises it, so a's fast path to b never comes up.
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const deadPort = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const maxQueuedBytes = 64 * 1024;
    const [a, b] = await pairOf({ ...FAST_PATH, maxQueuedBytes }, { fastPath: { ...FAST_PATH.fastPath, advertise: { host: '127.0.0.1', port: deadPort } } });
    await routedOverTls(a, b);
    type BlobMsg = { type: 'blob'; blob: Uint8Array };
    const target: ActorRef<BlobMsg> = { node: b.identity.nodeId, path: '/user/nobody', uid: 1 };
    // One frame alone in an empty queue may exceed the bound: the queue is now past it.
    a.system.tell(target, { type: 'blob', blob: new Uint8Array(2 * maxQueuedBytes) });
    await waitUntil(() => a.transport.queuedBytes(b.identity.nodeId) > maxQueuedBytes, 5_000, 'queue past its bound');
    // Several acceptable heartbeat pauses: had a's heartbeats stopped, b would have judged it down.
    await sleep(1_200);
    expect(b.transport.peerStatus(a.identity.nodeId)).toBe('up');
    expect(a.transport.peerStatus(b.identity.nodeId)).toBe('up');
    expect(a.transport.stats().fastPathEnvelopesSent).toBe(0);
  });

  it('talks over libp2p between a node with the fast path and one without', async () => {
    const [a, b] = await pairOf(FAST_PATH, {});
    await waitUntil(() => a.transport.peerRoute(b.identity.nodeId) === 'libp2p', 5_000, 'libp2p route');
    expect(b.transport.peerRoute(a.identity.nodeId)).toBe('libp2p');
    const onB: ActorRef<CounterMsg> = b.system.spawn(counter, { name: 'c' });
    const onA: ActorRef<CounterMsg> = a.system.spawn(counter, { name: 'c' });
    a.system.tell(onB, { type: 'inc', by: 3 });
    b.system.tell(onA, { type: 'inc', by: 4 });
    expect(await a.system.ask(onB, { type: 'get' }, { timeoutMs: 5_000 })).toBe(3);
    expect(await b.system.ask(onA, { type: 'get' }, { timeoutMs: 5_000 })).toBe(4);
    expect(a.transport.stats().fastPathEnvelopesSent).toBe(0);
    expect(b.transport.stats().fastPathEnvelopesReceived).toBe(0);
    // b ignores a's advertisement rather than rejecting it.
    expect(Object.values(b.transport.stats().rejected).every((n) => n === 0)).toBe(true);
  });
});
