// Who gets in and what gets through: a node without the cluster key cannot connect, a node with
// the key but not on the allow-list is refused, malformed, oversized and forged frames written
// over a raw libp2p stream are rejected and counted while the node keeps working, and a sender
// whose peer never reads keeps its queue under the bound.
import type { Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActorRef } from '../../runtime/actors/index.ts';
import { Codec } from '../../runtime/codec/codec.ts';
import { Libp2pTransport } from '../../transports/libp2p/libp2p-transport.ts';
import { ACTOR_PROTOCOL, HEARTBEAT_FRAME } from '../../transports/libp2p/wire-format.ts';
import { counter, type CounterMsg } from '../support/worker-actors.ts';
import { env, mesh, meshUp, sleep, TestCluster, waitUntil } from './libp2p-test-nodes.ts';

let cluster: TestCluster;
afterEach(async () => {
  await cluster.cleanup();
});

const codec = new Codec();
/** A frame header declaring `length` body bytes, followed by `body`. */
function rawFrame(length: number, body: Uint8Array): Uint8Array {
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setUint32(0, length, false);
  frame.set(body, 4);
  return frame;
}

function abortAfter(ms: number): AbortSignal {
  const controller = new AbortController();
  env.setTimer(ms, () => controller.abort(new Error(`no connection within ${ms} ms`)));
  return controller.signal;
}

function whenClosed(stream: Stream): Promise<void> {
  if (stream.status !== 'open') return Promise.resolve();
  return new Promise((resolve) => stream.addEventListener('close', () => resolve(), { once: true }));
}

describe('libp2p transport: admission', () => {
  it('keeps out a node without the cluster key, even one on the peer list', async () => {
    cluster = await TestCluster.create();
    const key = await cluster.clusterKey();
    const a = await cluster.node('a', key);
    const outsiderId = await cluster.identity('outsider');
    const wrongKey = await cluster.rawNode(outsiderId, await cluster.clusterKey('other-key'));
    const noKey = await cluster.rawNode(await cluster.identity('outsider2'), undefined);
    a.transport.addPeer(`${wrongKey.getMultiaddrs()[0]!.toString()}`);
    const target = multiaddr(a.transport.listenAddresses[0]!);
    // Without the right key each side reads the other's bytes as garbage: sometimes that fails at
    // once, sometimes it reads as a long message that never completes and only a timeout ends the
    // dial (libp2p's own is 6 s). A working connection on loopback takes milliseconds.
    await expect(wrongKey.dialProtocol(target, ACTOR_PROTOCOL, { signal: abortAfter(1_000) })).rejects.toThrow();
    await expect(noKey.dialProtocol(target, ACTOR_PROTOCOL, { signal: abortAfter(1_000) })).rejects.toThrow();
    expect(a.transport.peerStatus(outsiderId.nodeId)).not.toBe('up');
    expect(a.transport.stats().framesReceived).toBe(0);
  });

  it('refuses, logs and counts a node with the key that is not on the allow-list', async () => {
    cluster = await TestCluster.create();
    const key = await cluster.clusterKey();
    const a = await cluster.node('a', key);
    const stranger = await cluster.rawNode(await cluster.identity('stranger'), key);
    await expect(stranger.dialProtocol(multiaddr(a.transport.listenAddresses[0]!), ACTOR_PROTOCOL)).rejects.toThrow();
    expect(a.transport.stats().refusedConnections).toBeGreaterThanOrEqual(1);
    expect(a.system.metrics.expose()).toMatch(/ultracloud_libp2p_connections_refused_total [1-9]/);
  });

  it('rejects and counts malformed, oversized and forged frames, and keeps working', async () => {
    cluster = await TestCluster.create();
    const key = await cluster.clusterKey();
    const a = await cluster.node('a', key, { maxFrameBytes: 64 * 1024 });
    const b = await cluster.node('b', key);
    mesh([a, b]);
    await meshUp([a, b]);
    const target: ActorRef<CounterMsg> = a.system.spawn(counter, { name: 'c' });
    // The attacker holds a key and an identity on a's peer list: only the frame checks stand in its way.
    const attackerId = await cluster.identity('attacker');
    const attacker = await cluster.rawNode(attackerId, key);
    await attacker.handle(ACTOR_PROTOCOL, () => {});
    a.transport.addPeer(attacker.getMultiaddrs()[0]!.toString());
    const stream = await attacker.dialProtocol(multiaddr(a.transport.listenAddresses[0]!), ACTOR_PROTOCOL);
    const me = attackerId.nodeId;
    const inc = { k: 'tell', to: target, msg: { type: 'inc', by: 1 } };
    stream.send(rawFrame(3, new Uint8Array([0xc1, 0xc1, 0xc1])));
    stream.send(codec.encodeFrame('hello'));
    stream.send(codec.encodeFrame([{ k: 'tell', to: 'nowhere' }, inc]));
    stream.send(codec.encodeFrame([{ k: 'tell', to: { ...target, node: b.identity.nodeId }, msg: { type: 'inc', by: 100 } }]));
    stream.send(codec.encodeFrame([{ k: 'watch', target, watcher: { node: b.identity.nodeId, path: '/user/w', uid: 1 } }]));
    stream.send(codec.encodeFrame([{ k: 'tell', to: target, msg: { type: 'get' }, reply: { node: b.identity.nodeId, askId: 1 } }]));
    stream.send(HEARTBEAT_FRAME);
    stream.send(codec.encodeFrame([inc, { ...inc, msg: { type: 'inc', by: 10 } }]));
    await waitUntil(() => a.transport.stats().rejected['forged-origin'] === 2, 5_000, 'all frames read');
    expect(a.transport.stats().rejected).toMatchObject({ malformed: 1, 'unknown-frame': 1, 'invalid-envelope': 1, misdirected: 1, 'forged-origin': 2, oversized: 0 });
    expect(await b.system.ask(target, { type: 'get' }, { timeoutMs: 5_000 })).toBe(12);

    // A header over the limit: nothing after it can be trusted to be a frame, so the stream goes.
    stream.send(rawFrame(64 * 1024 + 1, new Uint8Array(16)));
    await whenClosed(stream);
    expect(a.transport.stats().rejected.oversized).toBe(1);
    expect(stream.status).not.toBe('open');

    // The node carries on: with the honest peer, and with the same attacker on a fresh stream.
    b.system.tell(target, { type: 'inc', by: 100 });
    expect(await b.system.ask(target, { type: 'get' }, { timeoutMs: 5_000 })).toBe(112);
    const again = await attacker.dialProtocol(multiaddr(a.transport.listenAddresses[0]!), ACTOR_PROTOCOL);
    const received = a.transport.stats().envelopesReceived;
    again.send(codec.encodeFrame([inc]));
    await waitUntil(() => a.transport.stats().envelopesReceived === received + 1, 5_000, 'envelope on the new stream');
    expect(await b.system.ask(target, { type: 'get' }, { timeoutMs: 5_000 })).toBe(113);
    expect(a.transport.peerStatus(me)).toBe('up');
  });

  it('rejects bad peer addresses and options with InvalidArgument', async () => {
    cluster = await TestCluster.create();
    const key = await cluster.clusterKey();
    const a = await cluster.node('a', key);
    const invalid = { code: 'InvalidArgument' };
    expect(() => a.transport.addPeer('not a multiaddr')).toThrow(expect.objectContaining(invalid));
    expect(() => a.transport.addPeer('/ip4/127.0.0.1/tcp/4001')).toThrow(/\/p2p\/<peer id>/);
    expect(() => a.transport.addPeer(a.transport.listenAddresses[0]!)).toThrow(/names this node/);
    const identity = await cluster.identity('b');
    await expect(Libp2pTransport.start({ env, identity, clusterKey: key, heartbeatIntervalMs: 0 })).rejects.toMatchObject(invalid);
    await expect(Libp2pTransport.start({ env, identity, clusterKey: key, maxQueuedBytes: 1.5 })).rejects.toMatchObject(invalid);
    await expect(Libp2pTransport.start({ env, identity, clusterKey: key, failureDetector: { threshold: -1 } })).rejects.toMatchObject(invalid);
    await expect(Libp2pTransport.start({ env, identity, clusterKey: key, peers: ['/ip4/127.0.0.1/tcp/1'] })).rejects.toMatchObject(invalid);
  });

  it('keeps the queue to a peer that never reads under the bound', async () => {
    cluster = await TestCluster.create();
    const key = await cluster.clusterKey();
    const maxQueuedBytes = 512 * 1024;
    const maxFrameBytes = 64 * 1024;
    const sender = await cluster.node('sender', key, { maxQueuedBytes, maxFrameBytes, maxBatchEnvelopes: 256, unreachableTimeoutMs: 60_000 });
    const stuckId = await cluster.identity('stuck');
    const stuck = await cluster.rawNode(stuckId, key);
    const opened: Stream[] = [];
    // Takes the stream and never reads: yamux stops granting window, so the sender's writes stall.
    await stuck.handle(ACTOR_PROTOCOL, (stream) => {
      stream.pause();
      opened.push(stream);
    });
    sender.transport.addPeer(stuck.getMultiaddrs()[0]!.toString());
    await waitUntil(() => opened.length === 1, 5_000, 'stream to the stuck peer');
    const to = { node: stuckId.nodeId, path: '/user/sink', uid: 1 };
    const payload = 'p'.repeat(1_000);
    let maxQueued = 0;
    const sent = 20_000;
    for (let i = 0; i < sent / 500; i++) {
      for (let j = 0; j < 500; j++) sender.transport.send(stuckId.nodeId, { k: 'tell', to, msg: { type: 'm', payload } });
      await sleep(1);
      maxQueued = Math.max(maxQueued, sender.transport.queuedBytes(stuckId.nodeId));
    }
    const stats = sender.transport.stats();
    expect(maxQueued).toBeLessThanOrEqual(maxQueuedBytes);
    expect(maxQueued).toBeGreaterThan(maxQueuedBytes / 2);
    expect(stats.dropped['queue-full']).toBeGreaterThan(sent / 2);
    expect(stats.envelopesSent).toBeLessThan(sent / 10);
  });
});
