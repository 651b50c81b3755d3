// ReadIndex: a read is released only after a quorum acknowledged a heartbeat round sent after the
// request, and a new leader serves none before committing an entry of its own term.
import { describe, expect, it } from 'vitest';
import { bytes, Cluster, str } from './harness.ts';

const reads = (cluster: Cluster, id: string): string[] => (cluster.readStates.get(id) ?? []).map((r) => `${str(r.context)}@${r.index}`);

describe('ReadIndex', () => {
  it('returns a read state only once a quorum has confirmed leadership', () => {
    const cluster = new Cluster(3, 61);
    const leader = cluster.elect();
    cluster.propose(leader, 'w');
    cluster.deliverAll();
    cluster.node(leader).readIndex(bytes('r1'));
    cluster.processReady(leader);
    const heartbeats = cluster.queued('heartbeat');
    expect(heartbeats).toHaveLength(2);
    expect(heartbeats.every((h) => h.type === 'heartbeat' && str(h.context!) === 'r1')).toBe(true);
    for (const heartbeat of cluster.drop((m) => m.type === 'heartbeat')) cluster.deliver(heartbeat);
    expect(reads(cluster, leader)).toEqual([]);
    const [first] = cluster.drop((m) => m.type === 'heartbeatResponse');
    cluster.deliver(first!);
    expect(reads(cluster, leader)).toEqual(['r1@2']);
  });

  it('a leader cut off from the quorum never confirms a read', () => {
    const cluster = new Cluster(3, 62);
    const leader = cluster.elect();
    cluster.isolate(leader);
    cluster.node(leader).readIndex(bytes('stale'));
    cluster.processReady(leader);
    cluster.run(30);
    expect(reads(cluster, leader)).toEqual([]);
    expect(cluster.node(leader).status().role).toBe('follower');
  });

  it('a new leader first commits its no-op, then serves reads at that index', () => {
    const cluster = new Cluster(3, 63);
    const old = cluster.elect();
    cluster.crash(old);
    // Let only election traffic through until someone wins; hold its appends.
    let leader: string | undefined;
    for (let t = 0; t < 200 && leader === undefined; t++) {
      for (const id of cluster.alive()) cluster.tick(id);
      for (const message of cluster.drop((m) => m.type.toLowerCase().includes('vote'))) cluster.deliver(message);
      leader = cluster.alive().find((id) => cluster.node(id).status().role === 'leader');
    }
    expect(leader).toBeDefined();
    const status = cluster.node(leader!).status();
    expect(status.commit).toBeLessThan(status.lastIndex);
    cluster.node(leader!).readIndex(bytes('early'));
    cluster.processReady(leader!);
    expect(cluster.queued('heartbeat')).toEqual([]);
    cluster.deliverAll();
    expect(reads(cluster, leader!)).toEqual([`early@${status.lastIndex}`]);
  });

  it('later reads ride on a later round and release the earlier ones in order', () => {
    const cluster = new Cluster(5, 64);
    const leader = cluster.elect();
    cluster.node(leader).readIndex(bytes('a'));
    cluster.node(leader).readIndex(bytes('b'));
    cluster.processReady(leader);
    cluster.drop((m) => m.type === 'heartbeat' && str(m.context!) === 'a');
    cluster.deliverAll();
    expect(reads(cluster, leader)).toEqual(['a@1', 'b@1']);
  });

  it('a single voter answers at once; followers refuse and name the leader', () => {
    const single = new Cluster(1, 65);
    single.elect();
    single.node('n1').readIndex(bytes('x'));
    single.processReady('n1');
    expect(reads(single, 'n1')).toEqual(['x@1']);

    const cluster = new Cluster(3, 66);
    const leader = cluster.elect();
    const follower = cluster.ids.find((id) => id !== leader)!;
    expect(() => cluster.node(follower).readIndex(bytes('y'))).toThrow(expect.objectContaining({ code: 'Unavailable', details: { leader } }));
  });
});
