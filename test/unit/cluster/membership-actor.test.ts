// Membership actor on several in-process nodes: joining through seeds, failure verdicts spreading,
// refutation, operator admit and remove, subscribers, and malformed gossip.
import { describe, expect, it } from 'vitest';
import { defineActor, type ActorRef } from '../../../runtime/actors/index.ts';
import type { MembershipEvent } from '../../../runtime/cluster/membership-core.ts';
import { addressOf, MemoryCluster } from '../../support/memory-cluster.ts';

async function allUp(cluster: MemoryCluster, ids: string[]): Promise<boolean> {
  for (const id of ids) {
    const view = await cluster.view(id);
    if (ids.some((other) => view[other] !== 'up')) return false;
  }
  return true;
}

function recorder(log: string[]) {
  return defineActor<null, MembershipEvent>({
    init: () => null,
    receive(state, event) {
      log.push(`${event.type}:${event.member.node}`);
      return state;
    },
  });
}

async function chain(): Promise<MemoryCluster> {
  const cluster = new MemoryCluster();
  cluster.start('c');
  cluster.start('b', { seeds: ['c'] });
  cluster.start('a', { seeds: ['b'] });
  await cluster.until(() => allUp(cluster, ['a', 'b', 'c']));
  return cluster;
}

describe('membership actor', () => {
  it('three nodes converge to all up from a seed chain, and admit every member address', async () => {
    const cluster = await chain();
    expect(cluster.scheduler.now).toBeLessThan(2_000);
    // c learned of a only through gossip, and admitted it into its transport.
    expect([...cluster.node('c').peers.admitted].sort()).toEqual(['a', 'b']);
    const members = await cluster.ask(cluster.node('c').system, cluster.node('c').membership, { type: 'members' });
    expect(members.find((m) => m.node === 'a')?.addresses).toEqual([addressOf('a')]);
  });

  it('a down verdict on one node spreads to the others', async () => {
    const cluster = await chain();
    const log: string[] = [];
    const b = cluster.node('b');
    b.system.tell(b.membership, { type: 'subscribe', subscriber: b.system.spawn(recorder(log)) });
    cluster.kill('c');
    cluster.node('a').peers.emit({ node: 'c', status: 'down', reason: 'phi' });
    await cluster.until(async () => (await cluster.view('a')).c === 'suspect', 1_000, 10);
    await cluster.until(async () => (await cluster.view('b')).c === 'down');
    expect((await cluster.view('a')).c).toBe('down');
    expect(log.filter((e) => e.endsWith(':c'))).toEqual(['member-joined:c', 'member-up:c', 'member-suspect:c', 'member-down:c']);
  });

  it('a live node refutes a false suspicion and is up everywhere again', async () => {
    const cluster = await chain();
    const before = (await cluster.ask(cluster.node('a').system, cluster.node('a').membership, { type: 'members' })).find((m) => m.node === 'b')!.version;
    cluster.node('a').peers.emit({ node: 'b', status: 'down', reason: 'unreachable' });
    await cluster.until(async () => (await cluster.view('a')).b === 'suspect', 1_000, 10);
    await cluster.until(() => allUp(cluster, ['a', 'b', 'c']), 400);
    const after = (await cluster.ask(cluster.node('c').system, cluster.node('c').membership, { type: 'members' })).find((m) => m.node === 'b')!.version;
    expect(after).toBe(before + 1);
    // Past the suspicion timeout: the refuted suspicion does not turn into down.
    await cluster.scheduler.advance(1_000);
    expect(await allUp(cluster, ['a', 'b', 'c'])).toBe(true);
  });

  it('admit adds a node that knows no one, and every member admits it', async () => {
    const cluster = new MemoryCluster();
    cluster.start('b');
    const a = cluster.start('a', { seeds: ['b'] });
    await cluster.until(() => allUp(cluster, ['a', 'b']));
    cluster.start('d');
    expect(await cluster.ask(a.system, a.membership, { type: 'admit', address: addressOf('d') })).toBe('d');
    expect((await cluster.view('a')).d).not.toBeUndefined();
    await cluster.until(() => allUp(cluster, ['a', 'b', 'd']));
    expect(cluster.node('b').peers.admitted.has('d')).toBe(true);
    await expect(cluster.ask(a.system, a.membership, { type: 'admit', address: '/memory/nowhere' })).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(cluster.ask(a.system, a.membership, { type: 'admit', address: addressOf('a') })).rejects.toMatchObject({ code: 'InvalidArgument' });
  });

  it('remove tombstones a node cluster-wide; a node cannot remove itself', async () => {
    const cluster = await chain();
    const a = cluster.node('a');
    expect(await cluster.ask(a.system, a.membership, { type: 'remove', node: 'c' })).toBe(true);
    expect(await cluster.ask(a.system, a.membership, { type: 'remove', node: 'c' })).toBe(false);
    await expect(cluster.ask(a.system, a.membership, { type: 'remove', node: 'a' })).rejects.toMatchObject({ code: 'FailedPrecondition' });
    await cluster.until(async () => (await cluster.view('b')).c === 'removed');
    // c hears of its own tombstone and does not refute it.
    await cluster.until(async () => (await cluster.view('c')).c === 'removed');
    await cluster.scheduler.advance(1_000);
    expect((await cluster.view('a')).c).toBe('removed');
  });

  it('subscribers get the current members at once, then changes, until they unsubscribe or stop', async () => {
    const cluster = new MemoryCluster();
    const b = cluster.start('b');
    const log: string[] = [];
    const subscriber: ActorRef<MembershipEvent> = b.system.spawn(recorder(log));
    b.system.tell(b.membership, { type: 'subscribe', subscriber });
    b.system.tell(b.membership, { type: 'subscribe', subscriber });
    await cluster.scheduler.advance(10);
    expect(log).toEqual(['member-joined:b', 'member-up:b']);
    cluster.start('a', { seeds: ['b'] });
    await cluster.until(() => allUp(cluster, ['a', 'b']));
    expect(log).toEqual(['member-joined:b', 'member-up:b', 'member-joined:a', 'member-up:a']);
    b.system.tell(b.membership, { type: 'unsubscribe', subscriber });
    cluster.node('b').peers.emit({ node: 'a', status: 'down', reason: 'goodbye' });
    await cluster.scheduler.advance(10);
    expect(log).toHaveLength(4);

    // The receptionist is a subscriber too.
    const base = (await cluster.ask(b.system, b.membership, { type: 'stats' })).subscribers;
    const other = b.system.spawn(recorder([]));
    b.system.tell(b.membership, { type: 'subscribe', subscriber: other });
    await cluster.scheduler.advance(10);
    expect((await cluster.ask(b.system, b.membership, { type: 'stats' })).subscribers).toBe(base + 1);
    await b.system.stop(other);
    await cluster.scheduler.advance(10);
    expect((await cluster.ask(b.system, b.membership, { type: 'stats' })).subscribers).toBe(base);
  });

  it('counts and ignores malformed gossip without failing', async () => {
    const cluster = await chain();
    const a = cluster.node('a');
    const before = await cluster.view('a');
    const bad: unknown[] = [
      { type: 'membership.gossip', from: 'x', members: 'all of them' },
      { type: 'membership.gossip', from: 'x', members: [{ node: 'evil', addresses: [], status: 'up', version: -3 }] },
      { type: 'membership.gossip', from: 7, members: [] },
      { type: 'membership.gossip', from: 'x', members: Array.from({ length: 1001 }, (_, i) => ({ node: `n${i}`, addresses: [], status: 'up', version: 1 })) },
      { type: 'membership.peer-status', change: null },
      { type: 'subscribe', subscriber: 'me' },
      { type: 'no-such-message' },
    ];
    for (const message of bad) a.system.tell(a.membership, message as never);
    await cluster.scheduler.advance(10);
    const stats = await cluster.ask(a.system, a.membership, { type: 'stats' });
    expect(stats.malformedGossip).toBe(bad.length);
    expect(stats.subscribers).toBe(1);
    expect(await cluster.view('a')).toEqual(before);
    expect(a.system.actorTree()[1]?.children.find((c) => c.name === 'membership')?.restarts).toBe(0);
  });
});
