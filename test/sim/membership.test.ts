// The simulated PeerPort (sim/peer-port.ts) and membership on a SimCluster: peer status follows the
// network's connections, and the real membership actor converges, detects a crash and readmits the
// restarted node.
import { describe, expect, it } from 'vitest';
import type { PeerStatusChange } from '../../runtime/cluster/membership-actor.ts';
import type { MemberStatus } from '../../runtime/cluster/membership-core.ts';
import { Prng } from '../../runtime/env/prng.ts';
import { VirtualScheduler } from '../../runtime/env/virtual-env.ts';
import { SimCluster } from '../../sim/cluster.ts';
import { Counters } from '../../sim/counters.ts';
import { drawFaultPlan } from '../../sim/faults.ts';
import { NodeEnv } from '../../sim/node-env.ts';
import { SimPeerPort, simAddress } from '../../sim/peer-port.ts';
import { NETWORK, recordingNetwork, settle } from './sim-harness.ts';

/** A peer port on node `a` of a network with nodes a, b and c, recording what it reports. */
function portOnA() {
  const { scheduler, counters, network, attach } = recordingNetwork(3);
  const env = new NodeEnv(scheduler, { name: 'a#1' }, counters);
  const port = new SimPeerPort(network.attach('a', 1, env), env);
  attach('b');
  attach('c');
  const changes: Array<PeerStatusChange & { readonly at: number }> = [];
  port.onPeerStatus((change) => changes.push({ ...change, at: scheduler.now }));
  return { scheduler, counters, network, attach, port, changes };
}

describe('simulated PeerPort', () => {
  it('parses /sim/<node> addresses and refuses anything else, and its own address', () => {
    const { port } = portOnA();
    expect(port.addPeer(simAddress('b'))).toBe('b');
    for (const bad of ['/ip4/1.2.3.4/tcp/1/p2p/b', '/sim/', '/sim/b/c', simAddress('a')]) {
      expect(() => port.addPeer(bad)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }) as Error);
    }
  });

  it('reports an admitted peer up after the dial, down when the connection is reset, up when it forms again', async () => {
    const { scheduler, network, port, changes } = portOnA();
    port.addPeer(simAddress('b'));
    port.addPeer(simAddress('b'));
    expect(changes).toEqual([]);
    await scheduler.advance(1);
    expect(changes.map(({ node, status }) => `${node} ${status}`)).toEqual(['b up']);

    // A partition healed within the detection timeout is ridden out: nothing is reported.
    network.block('a', 'b');
    await scheduler.advance(NETWORK.detectionTimeoutMs / 2);
    network.unblock('a', 'b');
    await scheduler.advance(NETWORK.detectionTimeoutMs);
    expect(changes).toHaveLength(1);

    // A one-way partition past the timeout resets the connection; healing forms a new one.
    network.block('b', 'a');
    await scheduler.advance(NETWORK.detectionTimeoutMs + 1);
    expect(changes.at(-1)).toMatchObject({ node: 'b', status: 'down', reason: 'unreachable' });
    network.unblock('b', 'a');
    expect(changes.at(-1)).toMatchObject({ node: 'b', status: 'up' });
    expect(changes).toHaveLength(3);
  });

  it('reports a crashed peer down with the reset, and never reports peers it did not admit', async () => {
    const { scheduler, network, attach, port, changes } = portOnA();
    port.addPeer(simAddress('c'));
    await scheduler.advance(1);
    network.crash('b');
    network.crash('c');
    await scheduler.advance(NETWORK.maxLatencyMs * 2);
    expect(changes.map(({ node, status }) => `${node} ${status}`)).toEqual(['c up', 'c down']);
    expect(changes.at(-1)).toMatchObject({ reason: 'connection-reset' });
    attach('c', 2);
    expect(changes.at(-1)).toMatchObject({ node: 'c', status: 'up' });
  });
});

describe('membership on a simulated cluster', () => {
  it('joins through a seed chain, marks a crashed node down, and takes it back up after its restart', async () => {
    const scheduler = new VirtualScheduler(11);
    const cluster = new SimCluster(
      { scheduler, plan: drawFaultPlan(1, [], 'safety'), counters: new Counters(), stream: (label) => new Prng(label) },
      {
        nodes: ['a', 'b', 'c'],
        network: { detectionTimeoutMs: 300, minLatencyMs: 1, maxLatencyMs: 3 },
        membership: { seeds: (node) => (node === 'a' ? [] : [node === 'b' ? 'a' : 'b']), gossipIntervalMs: 50, suspectTimeoutMs: 200 },
        boot: () => {},
      },
    );
    const view = async (id: string): Promise<Record<string, MemberStatus>> => {
      const node = cluster.node(id);
      const members = await settle(scheduler, node.system.ask(node.membership!, { type: 'members' }, { timeoutMs: 1_000 }));
      return Object.fromEntries(members.map((m) => [m.node, m.status]));
    };
    const allUp = { a: 'up', b: 'up', c: 'up' };

    await scheduler.advance(500);
    for (const id of cluster.ids) expect(await view(id)).toEqual(allUp);

    cluster.crash('c');
    await scheduler.advance(600);
    expect(await view('a')).toEqual({ a: 'up', b: 'up', c: 'down' });
    expect(await view('b')).toEqual({ a: 'up', b: 'up', c: 'down' });

    cluster.restart('c');
    await scheduler.advance(500);
    for (const id of cluster.ids) expect(await view(id)).toEqual(allUp);
  });
});
