// Cluster membership as a pure state machine: the gossiped view of which nodes exist, where they
// listen and whether they are alive, with a merge that converges whatever order gossip arrives in.
// No I/O, no clocks, no randomness of its own: the membership actor feeds it gossip, failure
// detector verdicts, start-up versions and random numbers, and carries out what it returns.
//
// Convergence: each node's entry is ordered by (tombstone, version, status rank, addresses) and a
// merge keeps the greater entry per node — a join-semilattice, so merging is commutative,
// associative and idempotent. Who may raise what:
//   - Only a node raises its own entry's version (its start-up version, then refutations).
//   - Any node may mark another 'suspect' or 'down' at the entry's current version (its failure
//     detector's verdict); the higher status rank makes that win at equal version, so it spreads.
//   - A node that hears itself suspected or declared down at a version ≥ its own refutes by
//     re-announcing itself 'up' one version higher, which then beats the verdict everywhere.
//   - 'removed' is a tombstone that beats every live entry: a removed node id never comes back
//     (a node that must rejoin starts with a new identity).
import { UltraError } from '../errors.ts';

export type MemberStatus = 'joining' | 'up' | 'suspect' | 'down' | 'removed';

export interface Member {
  readonly node: string;
  readonly addresses: readonly string[];
  readonly status: MemberStatus;
  readonly version: number;
}

export type MembershipEventType = 'member-joined' | 'member-up' | 'member-suspect' | 'member-down' | 'member-removed';

export interface MembershipEvent {
  readonly type: MembershipEventType;
  readonly member: Member;
}

/** What a step changed: events for subscribers and peer addresses the transport must admit and dial. */
export interface MembershipChange {
  readonly events: MembershipEvent[];
  readonly dial: string[];
}

export interface MergeResult extends MembershipChange {
  /** The gossiped view lacks something this view has: the sender should be sent this view back. */
  readonly senderBehind: boolean;
  /** Entries for unknown nodes that did not fit under maxMembers. */
  readonly overflow: number;
}

export const DEFAULT_MAX_MEMBERS = 1000;
export const MAX_ADDRESSES_PER_MEMBER = 16;
const MAX_NODE_ID_LENGTH = 256;
const MAX_ADDRESS_LENGTH = 512;

const STATUS_RANK: Readonly<Record<MemberStatus, number>> = { joining: 0, up: 1, suspect: 2, down: 3, removed: 4 };

/** Total order on two entries for the same node; the merge keeps the greater. */
export function compareMembers(a: Member, b: Member): number {
  const tombstone = Number(a.status === 'removed') - Number(b.status === 'removed');
  if (tombstone !== 0) return tombstone;
  if (a.version !== b.version) return a.version < b.version ? -1 : 1;
  const rank = STATUS_RANK[a.status] - STATUS_RANK[b.status];
  if (rank !== 0) return rank;
  // Only a node writes its own addresses, but stale copies may differ: any fixed order will do.
  for (let i = 0; i < Math.min(a.addresses.length, b.addresses.length); i++) {
    const x = a.addresses[i]!;
    const y = b.addresses[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.addresses.length - b.addresses.length;
}

/** Merges two views (node → entry) without refutation: the semilattice join. */
export function mergeViews(a: readonly Member[], b: readonly Member[]): Member[] {
  const out = new Map<string, Member>();
  for (const m of [...a, ...b]) {
    const cur = out.get(m.node);
    if (cur === undefined || compareMembers(m, cur) > 0) out.set(m.node, m);
  }
  return [...out.values()].sort(byNode);
}

/** Checks a gossiped member list; undefined when anything in it is malformed or over the bounds. */
export function parseMembers(value: unknown, maxMembers = DEFAULT_MAX_MEMBERS): Member[] | undefined {
  if (!Array.isArray(value) || value.length > maxMembers) return undefined;
  const out: Member[] = [];
  for (const item of value as unknown[]) {
    if (typeof item !== 'object' || item === null) return undefined;
    const m = item as Record<string, unknown>;
    const { node, addresses, status, version } = m;
    if (typeof node !== 'string' || node.length === 0 || node.length > MAX_NODE_ID_LENGTH) return undefined;
    if (typeof status !== 'string' || !Object.hasOwn(STATUS_RANK, status)) return undefined;
    // Refutation adds one, so the largest accepted version must leave room for it.
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0 || version >= Number.MAX_SAFE_INTEGER) return undefined;
    if (!Array.isArray(addresses) || addresses.length > MAX_ADDRESSES_PER_MEMBER) return undefined;
    for (const a of addresses as unknown[]) if (typeof a !== 'string' || a.length === 0 || a.length > MAX_ADDRESS_LENGTH) return undefined;
    out.push({ node, addresses: [...(addresses as string[])], status: status as MemberStatus, version });
  }
  return out;
}

/** Share of gossip rounds spent on members believed down. */
const DOWN_GOSSIP_PROBABILITY = 0.2;

export class MembershipCore {
  readonly self: string;
  readonly #selfAddresses: readonly string[];
  readonly #maxMembers: number;
  readonly #members = new Map<string, Member>();

  /** `selfVersion` must exceed every version an earlier incarnation of this node used (e.g. its start time). */
  constructor(self: { readonly node: string; readonly addresses: readonly string[] }, selfVersion: number, maxMembers = DEFAULT_MAX_MEMBERS) {
    if (!Number.isSafeInteger(selfVersion) || selfVersion < 0) throw new UltraError('InvalidArgument', `self version must be a non-negative safe integer, got ${selfVersion}`);
    if (self.addresses.length > MAX_ADDRESSES_PER_MEMBER) throw new UltraError('InvalidArgument', `at most ${MAX_ADDRESSES_PER_MEMBER} self addresses`);
    this.self = self.node;
    this.#selfAddresses = [...self.addresses];
    this.#maxMembers = maxMembers;
    this.#members.set(self.node, { node: self.node, addresses: this.#selfAddresses, status: 'up', version: selfVersion });
  }

  /** Every entry, tombstones included, ordered by node id. */
  members(): Member[] {
    return [...this.#members.values()].sort(byNode);
  }

  get(node: string): Member | undefined {
    return this.#members.get(node);
  }

  get size(): number {
    return this.#members.size;
  }

  /** Folds a gossiped view into this one. */
  merge(incoming: readonly Member[]): MergeResult {
    const events: MembershipEvent[] = [];
    const dial: string[] = [];
    let overflow = 0;
    for (const m of incoming) {
      const cur = this.#members.get(m.node);
      if (m.node === this.self) {
        this.#hearOfSelf(m, cur!, events, dial);
        continue;
      }
      if (cur !== undefined && compareMembers(m, cur) <= 0) continue;
      if (cur === undefined && this.#members.size >= this.#maxMembers) {
        overflow++;
        continue;
      }
      this.#set(m, events, dial);
    }
    const theirs = new Map(incoming.map((m) => [m.node, m]));
    let senderBehind = false;
    for (const mine of this.#members.values()) {
      const other = theirs.get(mine.node);
      if (other === undefined || compareMembers(mine, other) > 0) {
        senderBehind = true;
        break;
      }
    }
    return { events, dial, senderBehind, overflow };
  }

  /** An operator admitted `node` at `address`: it enters the view as 'joining' until it announces itself. */
  admit(node: string, address: string): MembershipChange {
    if (node === this.self) throw new UltraError('InvalidArgument', `cannot admit this node (${node}) to itself`);
    const cur = this.#members.get(node);
    if (cur?.status === 'removed') throw new UltraError('FailedPrecondition', `node ${node} was removed; a removed node must rejoin with a new identity`);
    const events: MembershipEvent[] = [];
    const dial: string[] = [];
    if (cur === undefined) {
      if (this.#members.size >= this.#maxMembers) throw new UltraError('ResourceExhausted', `membership is full (${this.#maxMembers} members)`);
      this.#set({ node, addresses: [address], status: 'joining', version: 0 }, events, dial);
    }
    return { events, dial };
  }

  /**
   * The local failure detector lost `node`: mark it at its current version, so the verdict spreads
   * but loses to the node's own refutation.
   */
  observeDown(node: string, verdict: 'suspect' | 'down'): MembershipChange {
    const events: MembershipEvent[] = [];
    const dial: string[] = [];
    const cur = this.#members.get(node);
    if (node !== this.self && cur !== undefined && STATUS_RANK[cur.status] < STATUS_RANK[verdict]) {
      this.#set({ ...cur, status: verdict }, events, dial);
    }
    return { events, dial };
  }

  /** The suspicion raised at `version` ran out: still suspect and not refuted, so down. */
  confirmDown(node: string, version: number): MembershipChange {
    const cur = this.#members.get(node);
    if (cur === undefined || cur.status !== 'suspect' || cur.version !== version) return { events: [], dial: [] };
    return this.observeDown(node, 'down');
  }

  /** Tombstones `node`; false when it is unknown or already removed. */
  remove(node: string): { readonly removed: boolean } & MembershipChange {
    if (node === this.self) throw new UltraError('FailedPrecondition', 'a node cannot remove itself');
    const cur = this.#members.get(node);
    const events: MembershipEvent[] = [];
    const dial: string[] = [];
    if (cur === undefined || cur.status === 'removed') return { removed: false, events, dial };
    this.#set({ ...cur, status: 'removed' }, events, dial);
    return { removed: true, events, dial };
  }

  /**
   * Whom to gossip to next: a random other member that may be alive. Suspect members are included
   * so that they hear the suspicion and can refute it.
   */
  gossipTarget(random: () => number): string | undefined {
    const others = this.members().filter((m) => m.node !== this.self);
    const live = others.filter((m) => m.status === 'up' || m.status === 'joining' || m.status === 'suspect');
    const down = others.filter((m) => m.status === 'down');
    // Now and then gossip to a member believed down: a stale 'down' verdict spread by a node that
    // was itself cut off must reach the maligned node so it can refute it, even when no connection
    // ever dropped to trigger a sync (found by the membership simulation, seed 588).
    const pool = down.length > 0 && (live.length === 0 || random() < DOWN_GOSSIP_PROBABILITY) ? down : live;
    if (pool.length === 0) return undefined;
    const i = Math.min(pool.length - 1, Math.floor(random() * pool.length));
    return pool[i]!.node;
  }

  /** Events that describe the current view to a new subscriber. */
  snapshotEvents(): MembershipEvent[] {
    const events: MembershipEvent[] = [];
    for (const m of this.members()) if (m.status !== 'removed') events.push(...transitionEvents(undefined, m));
    return events;
  }

  /** Another node's newer entry for us: a tombstone is accepted, anything else refuted one version above it. */
  #hearOfSelf(m: Member, mine: Member, events: MembershipEvent[], dial: string[]): void {
    if (compareMembers(m, mine) <= 0) return;
    this.#set(m.status === 'removed' ? m : { node: this.self, addresses: this.#selfAddresses, status: 'up', version: m.version + 1 }, events, dial);
  }

  #set(next: Member, events: MembershipEvent[], dial: string[]): void {
    const prev = this.#members.get(next.node);
    this.#members.set(next.node, next);
    events.push(...transitionEvents(prev, next));
    if (next.node === this.self || next.status === 'removed') return;
    for (const address of next.addresses) if (!(prev?.addresses.includes(address) ?? false)) dial.push(address);
  }
}

function transitionEvents(prev: Member | undefined, next: Member): MembershipEvent[] {
  if (next.status === 'removed') return prev === undefined || prev.status === 'removed' ? [] : [{ type: 'member-removed', member: next }];
  const events: MembershipEvent[] = [];
  if (prev === undefined) events.push({ type: 'member-joined', member: next });
  if (prev?.status !== next.status && next.status !== 'joining') events.push({ type: STATUS_EVENT[next.status], member: next });
  return events;
}

const STATUS_EVENT: Readonly<Record<'up' | 'suspect' | 'down', MembershipEventType>> = { up: 'member-up', suspect: 'member-suspect', down: 'member-down' };

function byNode(a: Member, b: Member): number {
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}
