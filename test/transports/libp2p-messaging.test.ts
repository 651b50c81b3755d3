// Actor messaging between nodes over the libp2p transport, in one process on 127.0.0.1: tell,
// ask and reply, refs travelling inside messages, NotFound for a missing remote actor, remote
// death-watch (stopped, and node-down when a node closes), and three nodes in a mesh.
import { spawnWatcher } from '../support/watcher.ts';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defineActor, type ActorRef, type AnyRef, type Query, type Terminated } from '../../runtime/actors/index.ts';
import { loadClusterKeyFile } from '../../transports/libp2p/cluster-key.ts';
import type { Libp2pTransportOptions } from '../../transports/libp2p/libp2p-transport.ts';
import { counter, type CounterMsg } from '../support/worker-actors.ts';
import { env, mesh, meshUp, TestCluster, waitUntil, type TestNode } from './libp2p-test-nodes.ts';

let cluster: TestCluster;
afterEach(async () => {
  await cluster.cleanup();
});

async function nodes(count: number, options: Partial<Libp2pTransportOptions> = {}): Promise<TestNode[]> {
  cluster = await TestCluster.create();
  const key = await cluster.clusterKey();
  const started: TestNode[] = [];
  for (let i = 0; i < count; i++) started.push(await cluster.node(`n${i}`, key, options));
  mesh(started);
  await meshUp(started);
  return started;
}


describe('libp2p transport: messaging', () => {
  it('carries tells, asks and replies between two nodes, ids being peer ids', async () => {
    const [a, b] = (await nodes(2)) as [TestNode, TestNode];
    expect(a.transport.localNode).toBe(a.identity.peerId.toString());
    const remote: ActorRef<CounterMsg> = b.system.spawn(counter, { name: 'c' });
    for (let i = 1; i <= 1000; i++) a.system.tell(remote, { type: 'inc', by: i });
    expect(await a.system.ask(remote, { type: 'get' }, { timeoutMs: 5_000 })).toBe(500_500);
    // Coalesced: far fewer frames than envelopes.
    expect(a.transport.stats().framesSent).toBeLessThan(100);
    // A ref inside a message: b's actor asks a's actor back.
    const local = a.system.spawn(counter, { name: 'local' });
    a.system.tell(local, { type: 'inc', by: 42 });
    expect(await a.system.ask(remote, { type: 'ask-other', other: local }, { timeoutMs: 5_000 })).toBe(42);
  });

  it('carries multi-MiB messages both ways at once', async () => {
    // Large writes through the cluster-key layer, from several ciphers at once: what used to
    // grow pnet's shared WebAssembly memory until the process died (see psk-protector.ts).
    const asks = 24;
    const blob = new Uint8Array(3 * 1024 * 1024).fill(7);
    // Room for all of them in the queues: this is about the bytes, not the queue bound.
    const [a, b] = (await nodes(2, { maxQueuedBytes: asks * blob.length })) as [TestNode, TestNode];
    type SizeMsg = { type: 'size'; blob: Uint8Array } & Query<number>;
    const sizer = defineActor<null, SizeMsg>({
      init: () => null,
      receive(state, msg, ctx) {
        ctx.reply(msg, msg.blob.length);
        return state;
      },
    });
    const onA = a.system.spawn(sizer);
    const onB = b.system.spawn(sizer);
    const sizes = await Promise.all(
      Array.from({ length: asks }, (_, i) => (i % 2 === 0 ? a.system.ask(onB, { type: 'size', blob }, { timeoutMs: 20_000 }) : b.system.ask(onA, { type: 'size', blob }, { timeoutMs: 20_000 }))),
    );
    expect(sizes).toEqual(Array(asks).fill(blob.length));
  });

  it('answers an ask to a missing remote actor with NotFound', async () => {
    const [a, b] = (await nodes(2)) as [TestNode, TestNode];
    const missing: ActorRef<CounterMsg> = { node: b.identity.nodeId, path: '/user/nobody', uid: 1 };
    await expect(a.system.ask(missing, { type: 'get' }, { timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'NotFound' });
  });

  it('delivers Terminated(stopped) to a remote watcher', async () => {
    const [a, b] = (await nodes(2)) as [TestNode, TestNode];
    const remote = b.system.spawn(counter, { name: 'doomed' });
    const watcher = spawnWatcherOn(a);
    a.system.tell(watcher.ref, { type: 'watch', ref: remote as AnyRef });
    // The watch travels before the ask on the same stream, so it is registered by the time this returns.
    expect(await a.system.ask(remote, { type: 'get' }, { timeoutMs: 5_000 })).toBe(0);
    await b.system.stop(remote);
    await waitUntil(() => watcher.seen.length > 0, 5_000, 'Terminated');
    expect(watcher.seen).toEqual([{ type: 'terminated', ref: remote, reason: 'stopped' }]);
  });

  it('fires Terminated(node-down) when the watched node closes its transport', async () => {
    const [a, b] = (await nodes(2)) as [TestNode, TestNode];
    const remote = b.system.spawn(counter, { name: 'x' });
    const watcher = spawnWatcherOn(a);
    a.system.tell(watcher.ref, { type: 'watch', ref: remote as AnyRef });
    expect(await a.system.ask(remote, { type: 'get' }, { timeoutMs: 5_000 })).toBe(0);
    const downs: string[] = [];
    a.transport.onPeerStatus((change) => {
      if (change.status === 'down') downs.push(change.reason);
    });
    const t0 = env.monotonicNow();
    await b.transport.close();
    await waitUntil(() => watcher.seen.length > 0, 5_000, 'Terminated(node-down)');
    expect(env.monotonicNow() - t0).toBeLessThan(2_000);
    expect(watcher.seen).toEqual([{ type: 'terminated', ref: remote, reason: 'node-down' }]);
    expect(downs).toEqual(['goodbye']);
    // Watching an actor on a node that is down ends at once in node-down too.
    const late = spawnWatcherOn(a);
    a.system.tell(late.ref, { type: 'watch', ref: remote as AnyRef });
    await waitUntil(() => late.seen.length > 0, 5_000, 'Terminated for a watch after the node went down');
    expect(late.seen[0]?.reason).toBe('node-down');
  });

  it('restarts a node under the same peer id, and its peer reports it up again', async () => {
    const [a, b] = (await nodes(2)) as [TestNode, TestNode];
    const changes: string[] = [];
    a.transport.onPeerStatus((change) => changes.push(change.status));
    await b.transport.close();
    await b.system.shutdown();
    await waitUntil(() => a.transport.peerStatus(b.identity.nodeId) === 'down', 5_000, 'b down');

    // Same data directory, new process state and a new port: only the identity carries over.
    const key = await loadClusterKeyFile(join(cluster.root, 'cluster-key'));
    const b2 = await cluster.node('n1', key);
    expect(b2.dataDir).toBe(b.dataDir);
    expect(b2.transport.localNode).toBe(b.transport.localNode);
    // a still has b's old address; b's dial reaches a, which then answers over that connection.
    b2.transport.addPeer(a.transport.listenAddresses[0]!);
    await waitUntil(() => a.transport.peerStatus(b2.identity.nodeId) === 'up', 5_000, 'b up again');
    expect(changes).toEqual(['down', 'up']);
    const remote: ActorRef<CounterMsg> = b2.system.spawn(counter, { name: 'c' });
    a.system.tell(remote, { type: 'inc', by: 5 });
    expect(await a.system.ask(remote, { type: 'get' }, { timeoutMs: 5_000 })).toBe(5);
  });

  it('connects three nodes in a mesh, each asking the others', async () => {
    const all = await nodes(3);
    const refs = all.map((node, i) => node.system.spawn(counter, { name: `c${i}` }));
    for (const [i, node] of all.entries()) {
      for (const [j, ref] of refs.entries()) if (i !== j) node.system.tell(ref, { type: 'inc', by: 10 ** i });
    }
    // Each sender's ask follows its tell on the same stream, so once all have answered every tell is in.
    const asks = all.flatMap((node, i) => refs.filter((_, j) => j !== i).map((ref) => node.system.ask(ref, { type: 'get' }, { timeoutMs: 5_000 })));
    await Promise.all(asks);
    const totals = await Promise.all(refs.map((ref, j) => all[(j + 1) % 3]!.system.ask(ref, { type: 'get' }, { timeoutMs: 5_000 })));
    expect(totals).toEqual([10 + 100, 1 + 100, 1 + 10]);
  });
});

const spawnWatcherOn = (node: TestNode) => spawnWatcher(node.system);
