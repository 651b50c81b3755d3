// Test harness: N RaftNodes on one deterministic in-memory network. Messages wait in a queue and
// are delivered, dropped, duplicated or reordered as the test (or its seeded PRNG) decides;
// partitions block links; each node's Readies are persisted into its own MemoryRaftStorage and
// applied to a tiny state machine. A crash discards the node object — its unstable log and any
// unprocessed Ready — and a restart rebuilds it from storage. Safety invariants are checked as
// the run goes: election safety, log matching, leader completeness and state machine safety.
import { expect } from 'vitest';
import { Prng } from '../../../runtime/env/prng.ts';
import type { ConfChange } from '../../../runtime/raft/conf-change.ts';
import { MemoryRaftStorage } from '../../../runtime/raft/memory-storage.ts';
import type { Message } from '../../../runtime/raft/messages.ts';
import { RaftNode } from '../../../runtime/raft/raft-node.ts';
import type { RaftConfig } from '../../../runtime/raft/config.ts';
import type { ReadState } from '../../../runtime/raft/ready.ts';

const text = new TextEncoder();
const untext = new TextDecoder();

export function bytes(value: string): Uint8Array {
  return text.encode(value);
}

export function str(value: Uint8Array): string {
  return untext.decode(value);
}

/** The replicated state machine: the list of applied commands. */
interface StateMachine {
  appliedIndex: number;
  commands: string[];
}

export type NodeOptions = Omit<RaftConfig, 'id' | 'voters' | 'storage' | 'random'>;

export class Cluster {
  readonly ids: string[];
  readonly prng: Prng;
  readonly nodes = new Map<string, RaftNode | undefined>();
  readonly storages = new Map<string, MemoryRaftStorage>();
  readonly machines = new Map<string, StateMachine>();
  readonly readStates = new Map<string, ReadState[]>();
  /** Messages sent and not yet delivered or dropped. */
  inFlight: Message[] = [];
  /** Links that drop everything, as "from>to". */
  readonly #blocked = new Set<string>();
  readonly #options: NodeOptions;
  /** Election safety: the one leader seen for each term. */
  readonly leaderOfTerm = new Map<number, string>();
  /** State machine safety: what was applied at each index, and the applier's term then. */
  readonly appliedAt = new Map<number, { key: string; term: number }>();
  /** Handle each node's Ready right after every input; off, Readies wait for processReady (so a crash loses them). */
  autoReady = true;
  /** Nodes that lost their state and have not caught up: durable, as DurableRaftLog's recovering flag. */
  readonly recovering = new Set<string>();
  /** The group's first voters (the first `initialVoters` ids); the other nodes join through configuration changes. */
  readonly initialVoters: string[];

  constructor(count: number, seed: number, options: NodeOptions = {}, initialVoters = count) {
    this.ids = Array.from({ length: count }, (_, k) => `n${k + 1}`);
    this.initialVoters = this.ids.slice(0, initialVoters);
    this.prng = new Prng(seed);
    this.#options = options;
    for (const id of this.ids) {
      this.storages.set(id, new MemoryRaftStorage());
      this.start(id);
    }
  }

  node(id: string): RaftNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`${id} is down`);
    return node;
  }

  /** (Re)starts a node from its storage; its state machine restarts from the storage's snapshot. */
  start(id: string): void {
    const storage = this.storages.get(id)!;
    const random = this.prng.fork(`random-${id}`);
    this.nodes.set(id, new RaftNode({ ...this.#options, id, voters: this.initialVoters, storage, random: () => random.next(), recovering: this.recovering.has(id) }));
    this.machines.set(id, restoreMachine(storage.snapshot().index, storage.snapshot().data));
  }

  /**
   * Replaces a down node's disk: it restarts with empty storage, forgetting its log, votes and
   * acknowledgements — recovering (`ultracloud node reset`) unless `recovering` is false.
   */
  wipe(id: string, recovering = true): void {
    expect(this.nodes.get(id), `${id} must be down to lose its disk`).toBeUndefined();
    this.storages.set(id, new MemoryRaftStorage());
    if (recovering) this.recovering.add(id);
    this.start(id);
  }

  crash(id: string): void {
    this.nodes.set(id, undefined);
  }

  isolate(id: string): void {
    for (const other of this.ids) {
      if (other === id) continue;
      this.#blocked.add(`${id}>${other}`);
      this.#blocked.add(`${other}>${id}`);
    }
  }

  /** Cuts every link between the two groups. */
  partition(groupA: readonly string[], groupB: readonly string[]): void {
    for (const a of groupA) {
      for (const b of groupB) {
        this.#blocked.add(`${a}>${b}`);
        this.#blocked.add(`${b}>${a}`);
      }
    }
  }

  heal(): void {
    this.#blocked.clear();
  }

  alive(): string[] {
    return this.ids.filter((id) => this.nodes.get(id) !== undefined);
  }

  leaders(): string[] {
    return this.alive().filter((id) => this.node(id).status().role === 'leader');
  }

  /** The leader with the highest term among live nodes, if any. */
  leader(): string | undefined {
    let best: string | undefined;
    for (const id of this.leaders()) {
      if (best === undefined || this.node(id).status().term > this.node(best).status().term) best = id;
    }
    return best;
  }

  tick(id: string): void {
    this.nodes.get(id)?.tick();
    if (this.autoReady) this.processReady(id);
  }

  propose(id: string, command: string): void {
    this.node(id).propose(bytes(command));
    if (this.autoReady) this.processReady(id);
  }

  proposeConf(id: string, change: ConfChange): void {
    this.node(id).proposeConfChange(change);
    if (this.autoReady) this.processReady(id);
  }

  /** The voters and learners of `id`'s applied membership. */
  members(id: string): string[] {
    const conf = this.node(id).confState();
    return [...conf.voters, ...conf.learners];
  }

  /** Handles every pending Ready of `id`: persist, send, apply, advance; then checks invariants. */
  processReady(id: string): void {
    const node = this.nodes.get(id);
    if (node === undefined) return;
    const storage = this.storages.get(id)!;
    const machine = this.machines.get(id)!;
    while (node.hasReady()) {
      const ready = node.ready();
      if (ready.snapshot !== undefined) storage.applySnapshot(ready.snapshot);
      storage.append(ready.entries);
      if (ready.hardState !== undefined) storage.setHardState(ready.hardState);
      this.inFlight.push(...ready.messages);
      if (ready.snapshot !== undefined) {
        const restored = restoreMachine(ready.snapshot.index, ready.snapshot.data);
        expect(restored.appliedIndex).toBeGreaterThan(machine.appliedIndex);
        Object.assign(machine, restored);
      }
      for (const entry of ready.committedEntries) {
        expect(entry.index, `${id} applies in order`).toBe(machine.appliedIndex + 1);
        machine.appliedIndex = entry.index;
        const key = `${entry.term}:${str(entry.data)}`;
        const seen = this.appliedAt.get(entry.index);
        if (seen === undefined) this.appliedAt.set(entry.index, { key, term: node.status().term });
        else expect(key, `${id} applied a different entry at ${entry.index}`).toBe(seen.key);
        if (entry.kind === 'conf') machine.commands.push(`conf@${entry.index}`);
        else if (entry.data.byteLength > 0) machine.commands.push(str(entry.data));
      }
      this.readStates.set(id, [...(this.readStates.get(id) ?? []), ...ready.readStates]);
      node.advance(ready);
      if (!node.recovering) this.recovering.delete(id);
    }
    this.checkElectionSafety(id);
    this.#checkLeaderCompleteness(id);
  }

  /** At most one leader per term, ever (the record survives crashes). */
  checkElectionSafety(id: string): void {
    const status = this.nodes.get(id)?.status();
    if (status?.role !== 'leader') return;
    const previous = this.leaderOfTerm.get(status.term);
    expect(previous ?? id, `two leaders in term ${status.term}`).toBe(id);
    this.leaderOfTerm.set(status.term, id);
  }

  #checkLeaderCompleteness(id: string): void {
    const status = this.node(id).status();
    if (status.role !== 'leader') return;
    // Leader completeness: with its Ready handled, the leader's log is its storage, and it holds
    // every entry committed in an earlier term (older ones are inside its snapshot).
    const storage = this.storages.get(id)!;
    for (const [index, applied] of this.appliedAt) {
      if (applied.term >= status.term || index < storage.firstIndex()) continue;
      expect(index, `leader ${id} lacks committed ${index}`).toBeLessThanOrEqual(storage.lastIndex());
      expect(`${storage.term(index)}`, `leader ${id} has another entry at ${index}`).toBe(applied.key.split(':')[0]);
    }
  }

  /** Log matching: entries with the same index and term are identical, and so are all before them. */
  checkLogMatching(): void {
    for (const a of this.ids) {
      for (const b of this.ids) {
        if (a >= b) continue;
        const sa = this.storages.get(a)!;
        const sb = this.storages.get(b)!;
        const lo = Math.max(sa.firstIndex(), sb.firstIndex());
        let matched = false;
        for (let i = Math.min(sa.lastIndex(), sb.lastIndex()); i >= lo; i--) {
          const [ea] = sa.entries(i, i + 1, Infinity);
          const [eb] = sb.entries(i, i + 1, Infinity);
          if (ea!.term === eb!.term) matched = true;
          if (matched) expect(`${eb!.term}:${str(eb!.data)}`, `${a}/${b} diverge at ${i}`).toBe(`${ea!.term}:${str(ea!.data)}`);
        }
      }
    }
  }

  /** State machine safety across nodes: every applied command list is a prefix of the longest. */
  checkStateMachines(): void {
    const lists = [...this.machines.values()].map((m) => m.commands);
    const longest = lists.reduce((a, b) => (b.length > a.length ? b : a), []);
    for (const list of lists) expect(list).toEqual(longest.slice(0, list.length));
  }

  /** Delivers one message (if its link is up and its target alive). */
  deliver(message: Message): void {
    const target = this.nodes.get(message.to);
    const blocked = this.#blocked.has(`${message.from}>${message.to}`);
    if (message.type === 'snapshot') {
      // The transport reports how a snapshot send ended, as a real one would.
      this.nodes.get(message.from)?.reportSnapshot(message.to, target === undefined || blocked ? 'failed' : 'finished');
    }
    if (target === undefined || blocked) return;
    target.step(message);
    if (!this.autoReady) return;
    this.processReady(message.to);
    if (message.type === 'snapshot') this.processReady(message.from);
  }

  /** Delivers queued messages in order until none are left (or `maxMessages` were handled). */
  deliverAll(maxMessages = 100_000): void {
    for (let k = 0; k < maxMessages && this.inFlight.length > 0; k++) {
      const message = this.inFlight.shift()!;
      this.deliver(message);
    }
  }

  /** Messages of `type` currently queued. */
  queued(type?: Message['type']): Message[] {
    return this.inFlight.filter((m) => type === undefined || m.type === type);
  }

  /** Takes every queued message matching `filter` off the network. */
  drop(filter: (message: Message) => boolean): Message[] {
    const dropped = this.inFlight.filter(filter);
    this.inFlight = this.inFlight.filter((m) => !filter(m));
    return dropped;
  }

  /** Ticks every live node `ticks` times, letting the network settle after each round. */
  run(ticks: number): void {
    for (let t = 0; t < ticks; t++) {
      for (const id of this.alive()) this.tick(id);
      this.deliverAll();
    }
  }

  /** Runs until a single leader is in charge (all live nodes know it), or fails after `maxTicks`. */
  elect(maxTicks = 200): string {
    for (let t = 0; t < maxTicks; t++) {
      this.run(1);
      const leader = this.leader();
      // Everyone alive that the leader counts as a member follows it (others never hear from it).
      const members = leader === undefined ? [] : this.members(leader);
      if (leader !== undefined && this.alive().every((id) => !members.includes(id) || this.node(id).status().leader === leader)) return leader;
    }
    const states = this.alive().map((id) => {
      const s = this.node(id).status();
      return `${id}: ${s.role} t${s.term} leader=${s.leader} commit=${s.commit} applied=${s.applied} last=${s.lastIndex} conf=${JSON.stringify(this.node(id).confState())}`;
    });
    throw new Error(`no leader elected\n${states.join('\n')}`);
  }

  /** Compacts `id`'s log up to what its state machine has applied. */
  compact(id: string): void {
    const machine = this.machines.get(id)!;
    // The membership the node applied with the machine's state (its Ready handling keeps them together).
    this.storages.get(id)!.compact(machine.appliedIndex, snapshotMachine(machine), this.node(id).confState());
  }

  // ---- pieces of the randomized schedules (safety-property.test.ts, conf-change.test.ts) ----

  /** Heals, then cuts the nodes into two random non-empty sides. */
  partitionRandomly(random: Prng): void {
    this.heal();
    const shuffled = [...this.ids].sort(() => random.next() - 0.5);
    const cut = 1 + random.int(this.ids.length - 1);
    this.partition(shuffled.slice(0, cut), shuffled.slice(cut));
  }

  /** Compacts `id`'s log if it is up and has applied past its log's start. */
  compactIfApplied(id: string | undefined): void {
    const machine = id === undefined ? undefined : this.machines.get(id);
    if (id !== undefined && this.nodes.get(id) !== undefined && machine !== undefined && machine.appliedIndex >= this.storages.get(id)!.firstIndex()) this.compact(id);
  }

  /**
   * Liveness after a schedule: heals everything, restarts the crashed, elects a leader within
   * `maxTicks` and has three final proposals applied on every member (`members`, default: the
   * leader's view) within `maxTicks` more. Returns the leader.
   */
  finishAndCheckLiveness(seed: number, maxTicks: number, members: (leader: string) => string[] = () => this.ids): string {
    this.heal();
    for (const id of this.ids) if (this.nodes.get(id) === undefined) this.start(id);
    this.autoReady = true;
    for (const id of this.ids) this.processReady(id);
    const leader = this.elect(maxTicks);
    const finals = ['final-1', 'final-2', 'final-3'].map((c) => `s${seed}-${c}`);
    for (const command of finals) this.propose(leader, command);
    for (let tick = 0; tick < maxTicks && !members(leader).every((id) => this.commands(id).at(-1) === finals.at(-1)); tick++) this.run(1);
    for (const id of members(leader)) expect(this.commands(id).slice(-3), `seed ${seed}: ${id} applied the final proposals`).toEqual(finals);
    return leader;
  }

  commands(id: string): string[] {
    return this.machines.get(id)!.commands;
  }
}

function snapshotMachine(machine: StateMachine): Uint8Array {
  return bytes(JSON.stringify(machine));
}

function restoreMachine(index: number, data: Uint8Array): StateMachine {
  if (index === 0) return { appliedIndex: 0, commands: [] };
  const machine = JSON.parse(str(data)) as StateMachine;
  expect(machine.appliedIndex).toBe(index);
  return machine;
}
