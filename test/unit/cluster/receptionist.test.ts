// Receptionist across in-process nodes: registrations replicate to every up member, listings
// follow registrations, and entries go away with their actor or their node.
import { describe, expect, it } from 'vitest';
import { defineActor, type ActorRef, type AnyRef } from '../../../runtime/actors/index.ts';
import { isValidServiceName, type ServiceListing } from '../../../runtime/cluster/receptionist.ts';
import { MemoryCluster, type ClusterNode } from '../../support/memory-cluster.ts';

const worker = defineActor<null, { type: 'noop' }>({ init: () => null, receive: (s) => s });

function listingRecorder(log: string[][]) {
  return defineActor<null, ServiceListing>({
    init: () => null,
    receive(state, listing) {
      log.push(listing.refs.map((r) => `${r.node}${r.path}`).sort());
      return state;
    },
  });
}

async function threeNodes(): Promise<MemoryCluster> {
  const cluster = new MemoryCluster();
  cluster.start('c');
  cluster.start('b', { seeds: ['c'] });
  cluster.start('a', { seeds: ['b'] });
  await cluster.until(async () => {
    for (const id of ['a', 'b', 'c']) if (Object.values(await cluster.view(id)).filter((s) => s === 'up').length !== 3) return false;
    return true;
  });
  return cluster;
}

function lookup(cluster: MemoryCluster, node: ClusterNode, service: string): Promise<string[]> {
  return cluster.ask(node.system, node.receptionist, { type: 'lookup', service }).then((refs) => refs.map((r) => `${r.node}${r.path}`).sort());
}

describe('receptionist', () => {
  it('registrations on any node are seen by lookups on every node', async () => {
    const cluster = await threeNodes();
    const [a, b, c] = ['a', 'b', 'c'].map((id) => cluster.node(id));
    a!.system.tell(a!.receptionist, { type: 'register', service: 'kv', ref: a!.system.spawn(worker, { name: 'kv1' }) as AnyRef });
    c!.system.tell(c!.receptionist, { type: 'register', service: 'kv', ref: c!.system.spawn(worker, { name: 'kv2' }) as AnyRef });
    await cluster.scheduler.advance(20);
    for (const node of [a!, b!, c!]) expect(await lookup(cluster, node, 'kv')).toEqual(['a/user/kv1', 'c/user/kv2']);
    expect(await lookup(cluster, b!, 'other')).toEqual([]);
  });

  it('a node that joins later receives the existing registrations', async () => {
    const cluster = new MemoryCluster();
    const b = cluster.start('b');
    b.system.tell(b.receptionist, { type: 'register', service: 'web', ref: b.system.spawn(worker, { name: 'w' }) as AnyRef });
    const a = cluster.start('a', { seeds: ['b'] });
    await cluster.until(async () => (await lookup(cluster, a, 'web')).length === 1);
    expect(await lookup(cluster, a, 'web')).toEqual(['b/user/w']);
  });

  it('subscribers get the listing now and on every change, local or remote', async () => {
    const cluster = await threeNodes();
    const [a, c] = [cluster.node('a'), cluster.node('c')];
    const log: string[][] = [];
    const subscriber: ActorRef<ServiceListing> = c.system.spawn(listingRecorder(log));
    c.system.tell(c.receptionist, { type: 'subscribe', service: 'kv', subscriber });
    await cluster.scheduler.advance(10);
    const kv1 = a.system.spawn(worker, { name: 'kv1' }) as AnyRef;
    a.system.tell(a.receptionist, { type: 'register', service: 'kv', ref: kv1 });
    await cluster.scheduler.advance(10);
    c.system.tell(c.receptionist, { type: 'register', service: 'kv', ref: c.system.spawn(worker, { name: 'kv2' }) as AnyRef });
    await cluster.scheduler.advance(10);
    a.system.tell(a.receptionist, { type: 'deregister', service: 'kv', ref: kv1 });
    await cluster.scheduler.advance(10);
    expect(log).toEqual([[], ['a/user/kv1'], ['a/user/kv1', 'c/user/kv2'], ['c/user/kv2']]);
    c.system.tell(c.receptionist, { type: 'unsubscribe', service: 'kv', subscriber });
    c.system.tell(c.receptionist, { type: 'register', service: 'kv', ref: c.system.spawn(worker, { name: 'kv3' }) as AnyRef });
    await cluster.scheduler.advance(10);
    expect(log).toHaveLength(4);
  });

  it('a registration ends when its actor stops, on every node', async () => {
    const cluster = await threeNodes();
    const [a, b] = [cluster.node('a'), cluster.node('b')];
    const ref = a.system.spawn(worker, { name: 'db' }) as AnyRef;
    a.system.tell(a.receptionist, { type: 'register', service: 'db', ref });
    a.system.tell(a.receptionist, { type: 'register', service: 'db-replica', ref });
    await cluster.scheduler.advance(10);
    expect(await lookup(cluster, b, 'db')).toEqual(['a/user/db']);
    await a.system.stop(ref);
    await cluster.scheduler.advance(10);
    for (const node of [a, b]) {
      expect(await lookup(cluster, node, 'db')).toEqual([]);
      expect(await lookup(cluster, node, 'db-replica')).toEqual([]);
    }
  });

  it("a down node's registrations are dropped everywhere", async () => {
    const cluster = await threeNodes();
    const [a, b, c] = ['a', 'b', 'c'].map((id) => cluster.node(id));
    c!.system.tell(c!.receptionist, { type: 'register', service: 'kv', ref: c!.system.spawn(worker, { name: 'kv' }) as AnyRef });
    await cluster.scheduler.advance(10);
    expect(await lookup(cluster, a!, 'kv')).toEqual(['c/user/kv']);
    cluster.kill('c');
    // Only b's transport notices; a learns that c is down by gossip.
    b!.peers.emit({ node: 'c', status: 'down', reason: 'goodbye' });
    await cluster.until(async () => (await lookup(cluster, a!, 'kv')).length === 0);
    expect(await lookup(cluster, b!, 'kv')).toEqual([]);
  });

  it('refuses bad service names, foreign refs and malformed replication', async () => {
    const cluster = await threeNodes();
    const [a, b] = [cluster.node('a'), cluster.node('b')];
    const ref = a.system.spawn(worker, { name: 'x' }) as AnyRef;
    for (const service of ['', 'Upper', '1abc', 'a_b', 'a'.repeat(64)]) a.system.tell(a.receptionist, { type: 'register', service, ref });
    a.system.tell(b.receptionist, { type: 'register', service: 'stolen', ref });
    const junk: unknown[] = [
      { type: 'receptionist.sync', from: 'c', listing: [{ service: 'kv', refs: [ref] }], reply: false },
      { type: 'receptionist.sync', from: 'c', listing: 'everything', reply: false },
      { type: 'receptionist.update', from: 'c', service: 'BAD', refs: [] },
      { type: 'receptionist.update', from: 'c', service: 'kv', refs: [{ node: 'c' }] },
    ];
    for (const message of junk) b.system.tell(b.receptionist, message as never);
    await cluster.scheduler.advance(10);
    for (const service of ['stolen', 'kv']) expect(await lookup(cluster, b, service)).toEqual([]);
    expect(await lookup(cluster, a, 'a')).toEqual([]);
    await expect(cluster.ask(a.system, a.receptionist, { type: 'lookup', service: 'Nope' })).rejects.toMatchObject({ code: 'InvalidArgument' });
    expect(isValidServiceName('a'.repeat(63))).toBe(true);
    expect(isValidServiceName('a'.repeat(64))).toBe(false);
  });
});
