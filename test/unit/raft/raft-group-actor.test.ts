// Three replicas of one Raft group as actors on virtual time, each on its own MemoryBackend:
// proposals are answered only once applied everywhere a quorum has them, a restarted replica
// recovers from its synced log, and linearizable reads wait for leadership confirmation.
import { describe, expect, it } from 'vitest';
import { ANY_INCARNATION, defineActor, type ActorRef } from '../../../runtime/actors/index.ts';
import { MemoryBackend } from '../../../runtime/persistence/memory-backend.ts';
import type { Message as RaftMessage } from '../../../runtime/raft/messages.ts';
import { raftGroupActor, type RaftGroupMsg, type StateMachine } from '../../../runtime/raft/raft-group-actor.ts';
import { virtualSystem } from '../../support/virtual-system.ts';

/** An append-only list of strings, the simplest deterministic state machine. */
function listMachine(applied: Map<string, string[]>, id: string): () => StateMachine {
  return () => {
    let items: string[] = [];
    applied.set(id, items);
    return {
      apply(data) {
        items.push(new TextDecoder().decode(data));
        return items.length;
      },
      snapshot: () => new TextEncoder().encode(JSON.stringify(items)),
      restore(data) {
        items = JSON.parse(new TextDecoder().decode(data)) as string[];
        applied.set(id, items);
      },
    };
  };
}

/** A MemoryBackend whose writes, while `holding`, wait until the test releases them (oldest first). */
class HoldingBackend extends MemoryBackend {
  holding = false;
  readonly held: Array<() => void> = [];
  override async batch(...args: Parameters<MemoryBackend['batch']>): Promise<void> {
    if (this.holding) await new Promise<void>((release) => this.held.push(release));
    return super.batch(...args);
  }
}

const ids = ['a', 'b', 'c'];
const peer = (id: string): ActorRef<RaftGroupMsg> => ({ node: 'local', path: `/user/raft-${id}`, uid: ANY_INCARNATION });

function setup(seed = 1) {
  const harness = virtualSystem(seed);
  const backends = new Map(ids.map((id) => [id, new HoldingBackend()]));
  const applied = new Map<string, string[]>();
  const start = (id: string, snapshotEveryEntries = 10_000) =>
    harness.system.spawn(raftGroupActor({ group: 'g1', id, voters: ids, peer, backend: backends.get(id)!, stateMachine: listMachine(applied, id), tickMs: 10, snapshotEveryEntries }), { name: `raft-${id}` });
  return { ...harness, backends, applied, start };
}

async function leaderOf(system: ReturnType<typeof setup>['system'], advance: (ms: number) => Promise<void>): Promise<string> {
  for (let i = 0; i < 100; i++) {
    for (const id of ids) {
      const status = await system.ask(peer(id), { type: 'raft.status' }, { timeoutMs: 1_000 }).catch(() => undefined);
      if (status?.leader) return status.leader;
    }
    await advance(50);
  }
  throw new Error('no leader elected');
}

async function propose(h: ReturnType<typeof setup>, text: string): Promise<unknown> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const leader = await leaderOf(h.system, h.advance);
    const answer = h.system.ask(peer(leader), { type: 'raft.propose', id: `${text}#${attempt}`, data: new TextEncoder().encode(text) }, { timeoutMs: 5_000 });
    const settled = answer.then((v) => ({ ok: true as const, v }), (e: { code: string }) => ({ ok: false as const, code: e.code }));
    await h.advance(200);
    const result = await settled;
    if (result.ok) return result.v;
    if (result.code !== 'Unavailable' && result.code !== 'Aborted') throw new Error(result.code);
  }
  throw new Error(`could not commit ${text}`);
}

describe('raft group actor', () => {
  it('elects a leader and applies proposals on every replica in the same order', async () => {
    const h = setup();
    ids.forEach((id) => h.start(id));
    expect(await propose(h, 'x')).toBe(1);
    expect(await propose(h, 'y')).toBe(2);
    await h.advance(500);
    for (const id of ids) expect(h.applied.get(id)).toEqual(['x', 'y']);
  });

  it('tells the followers a new commit index within commitDelayMs, or not at all when the next append carries it', async () => {
    const h = setup();
    // Each replica's messages pass a tap on their way, which records them.
    const sent: RaftMessage[] = [];
    const tap = (id: string): ActorRef<RaftGroupMsg> => ({ node: 'local', path: `/user/tap-${id}`, uid: ANY_INCARNATION });
    for (const id of ids) {
      h.system.spawn(
        defineActor<null, RaftGroupMsg>({
          init: () => null,
          receive(state, msg, ctx) {
            if (msg.type === 'raft.message') sent.push(msg.message);
            ctx.tell(peer(id), msg);
            return state;
          },
        }),
        { name: `tap-${id}` },
      );
      h.system.spawn(raftGroupActor({ group: 'g1', id, voters: ids, peer: tap, backend: h.backends.get(id)!, stateMachine: listMachine(h.applied, id), tickMs: 10, commitDelayMs: 5, raft: { heartbeatTicks: 5 } }), { name: `raft-${id}` });
    }
    const leader = await leaderOf(h.system, h.advance);
    const followers = ids.filter((id) => id !== leader);
    await h.advance(100);
    sent.length = 0;
    const propose = (text: string) => h.system.ask(peer(leader), { type: 'raft.propose', id: text, data: new TextEncoder().encode(text) }, { timeoutMs: 1_000 });
    // In-process delivery takes no virtual time: x is answered without waiting for anything.
    const x = propose('x');
    await h.advance(0);
    expect(await x).toBe(1);
    for (const id of followers) expect(h.applied.get(id)).toEqual([]);
    // y's appends carry x's commit index, so the followers apply x, and x's commit-only appends never leave.
    const y = propose('y');
    await h.advance(0);
    expect(await y).toBe(2);
    for (const id of followers) expect(h.applied.get(id)).toEqual(['x']);
    // No write follows y: its commit index leaves on its own within commitDelayMs.
    await h.advance(5);
    for (const id of followers) expect(h.applied.get(id)).toEqual(['x', 'y']);
    const commitOnly = sent.filter((m) => m.type === 'append' && m.commitOnly === true);
    expect(commitOnly.map((m) => m.to).sort()).toEqual([...followers].sort());
    expect(commitOnly.every((m) => m.type === 'append' && m.commit === Math.max(...sent.map((s) => (s.type === 'append' ? s.commit : 0))))).toBe(true);
  });

  it('keeps taking messages while a write is under way, and answers what arrived meanwhile after the next write', async () => {
    // One voter on a backend whose synced writes wait until released.
    const harness = virtualSystem(3);
    const backend = new HoldingBackend();
    const { held } = backend;
    const applied = new Map<string, string[]>();
    harness.system.spawn(raftGroupActor({ group: 'g1', id: 'a', voters: ['a'], peer, backend, stateMachine: listMachine(applied, 'a'), tickMs: 10 }), { name: 'raft-a' });
    await harness.advance(500);
    backend.holding = true;
    const propose = (text: string) => harness.system.ask(peer('a'), { type: 'raft.propose', id: text, data: new TextEncoder().encode(text) }, { timeoutMs: 5_000 });
    const x = propose('x');
    await harness.advance(1);
    expect(held).toHaveLength(1);
    // The replica answers and accepts while x's write is held (it used to take nothing until then).
    const status = await harness.system.ask(peer('a'), { type: 'raft.status' }, { timeoutMs: 1_000 });
    expect(status.lastIndex).toBeGreaterThan(status.commit);
    const y = propose('y');
    await harness.advance(1);
    expect((await harness.system.ask(peer('a'), { type: 'raft.status' }, { timeoutMs: 1_000 })).lastIndex).toBe(status.lastIndex + 1);
    expect(held).toHaveLength(1);
    backend.holding = false;
    held.shift()!();
    await harness.advance(1);
    expect(await x).toBe(1);
    expect(await y).toBe(2);
    expect(applied.get('a')).toEqual(['x', 'y']);
  });

  it("answers a proposal the followers' writes committed while the leader's own write is still under way", async () => {
    const h = setup();
    ids.forEach((id) => h.start(id));
    const leader = await leaderOf(h.system, h.advance);
    await h.advance(100);
    const backend = h.backends.get(leader)!;
    backend.holding = true;
    let answer: unknown;
    void h.system.ask(peer(leader), { type: 'raft.propose', id: 'x', data: new TextEncoder().encode('x') }, { timeoutMs: 1_000 }).then((v) => (answer = v));
    await h.advance(1);
    // Committed by the two followers' copies alone: applied and answered on the leader while its write waits.
    expect(backend.held).toHaveLength(1);
    expect(answer).toBe(1);
    expect(h.applied.get(leader)).toEqual(['x']);
    backend.holding = false;
    for (const release of backend.held.splice(0)) release();
    expect(await propose(h, 'y')).toBe(2);
    await h.advance(500);
    for (const id of ids) expect(h.applied.get(id)).toEqual(['x', 'y']);
  });

  it('refuses a proposal on a follower with Unavailable and the leader hint', async () => {
    const h = setup();
    ids.forEach((id) => h.start(id));
    const leader = await leaderOf(h.system, h.advance);
    const follower = ids.find((id) => id !== leader)!;
    const refused = h.system.ask(peer(follower), { type: 'raft.propose', id: 'refused', data: new Uint8Array([1]) }, { timeoutMs: 1_000 });
    await expect(refused).rejects.toMatchObject({ code: 'Unavailable', details: { leader } });
  });

  it('a replica restarted from its synced log catches up, also past a compaction by snapshot', async () => {
    const h = setup(3);
    const refs = new Map(ids.map((id) => [id, h.start(id, 5)]));
    await propose(h, 'one');
    const leader = await leaderOf(h.system, h.advance);
    const victim = ids.find((id) => id !== leader)!;
    await h.system.stop(refs.get(victim)!);
    for (let i = 0; i < 12; i++) await propose(h, `n${i}`);
    refs.set(victim, h.start(victim, 5));
    await h.advance(2_000);
    const expected = ['one', ...Array.from({ length: 12 }, (_, i) => `n${i}`)];
    for (const id of ids) expect(h.applied.get(id)).toEqual(expected);
  });

  it('appends a proposal delivered twice only once', async () => {
    const h = setup(9);
    ids.forEach((id) => h.start(id));
    const leader = await leaderOf(h.system, h.advance);
    const message = { type: 'raft.propose' as const, id: 'same', data: new TextEncoder().encode('once') };
    const first = h.system.ask(peer(leader), message, { timeoutMs: 5_000 });
    h.system.tell(peer(leader), message);
    await h.advance(500);
    expect(await first).toBe(1);
    for (const id of ids) expect(h.applied.get(id)).toEqual(['once']);
  });

  it('the whole group restarts with its state from disk', async () => {
    const h = setup(5);
    const refs = ids.map((id) => h.start(id));
    await propose(h, 'kept');
    await h.advance(300);
    for (const ref of refs) await h.system.stop(ref);
    ids.forEach((id) => h.start(id));
    await propose(h, 'after');
    await h.advance(500);
    for (const id of ids) expect(h.applied.get(id)).toEqual(['kept', 'after']);
  });

  it('answers a linearizable read on the leader after leadership is confirmed, and refuses it on a follower', async () => {
    const h = setup(7);
    ids.forEach((id) => h.start(id));
    await propose(h, 'r');
    const leader = await leaderOf(h.system, h.advance);
    const read = h.system.ask(peer(leader), { type: 'raft.read' }, { timeoutMs: 1_000 });
    await h.advance(100);
    expect(await read).toBeGreaterThanOrEqual(2);
    const follower = ids.find((id) => id !== leader)!;
    await expect(h.system.ask(peer(follower), { type: 'raft.read' }, { timeoutMs: 1_000 })).rejects.toMatchObject({ code: 'Unavailable' });
  });

  it('answers a burst of reads with one ReadIndex round', async () => {
    const h = setup(11);
    let sends = 0;
    const counting = (id: string): ActorRef<RaftGroupMsg> => {
      sends++;
      return peer(id);
    };
    for (const id of ids) h.system.spawn(raftGroupActor({ group: 'g1', id, voters: ids, peer: counting, backend: h.backends.get(id)!, stateMachine: listMachine(h.applied, id), tickMs: 10, raft: { heartbeatTicks: 5 } }), { name: `raft-${id}` });
    await propose(h, 'r');
    const leader = await leaderOf(h.system, h.advance);
    await h.advance(100);
    sends = 0;
    const reads = Array.from({ length: 50 }, () => h.system.ask(peer(leader), { type: 'raft.read' }, { timeoutMs: 1_000 }));
    await h.advance(20);
    expect(new Set(await Promise.all(reads)).size).toBe(1);
    // One heartbeat to each follower and their answers, not fifty rounds (a periodic heartbeat may add one).
    expect(sends).toBeLessThanOrEqual(8);
  });

  it('compacts its log on demand, and refuses a transfer on a follower with the leader hint', async () => {
    const h = setup(13);
    const refs = new Map(ids.map((id) => [id, h.start(id)]));
    for (const text of ['a', 'b', 'c']) await propose(h, text);
    const leader = await leaderOf(h.system, h.advance);
    await h.advance(200);
    const snapshotIndex = await h.system.ask(peer(leader), { type: 'raft.compact' }, { timeoutMs: 1_000 });
    expect(snapshotIndex).toBe((await h.system.ask(peer(leader), { type: 'raft.status' }, { timeoutMs: 1_000 })).applied);
    expect(await h.system.ask(peer(leader), { type: 'raft.compact' }, { timeoutMs: 1_000 })).toBe(snapshotIndex);
    // Restarted, the replica comes back from that snapshot.
    await h.system.stop(refs.get(leader)!);
    h.start(leader);
    await propose(h, 'd');
    await h.advance(500);
    for (const id of ids) expect(h.applied.get(id)).toEqual(['a', 'b', 'c', 'd']);

    const newLeader = await leaderOf(h.system, h.advance);
    const follower = ids.find((id) => id !== newLeader)!;
    await expect(h.system.ask(peer(follower), { type: 'raft.transfer', to: follower }, { timeoutMs: 1_000 })).rejects.toMatchObject({ code: 'Unavailable', details: { leader: newLeader } });
    expect(await h.system.ask(peer(newLeader), { type: 'raft.transfer', to: follower }, { timeoutMs: 1_000 })).toBe(true);
    await h.advance(500);
    expect((await h.system.ask(peer(newLeader), { type: 'raft.status' }, { timeoutMs: 1_000 })).leader).toBe(follower);
  });
});
