// The membership actor (/system/membership): runs the MembershipCore on a node. It gossips the
// view to a random live member every interval (push-pull: a receiver that knows more answers with
// its view), turns transport peer up/down events into failure-detector verdicts, admits the peers
// it learns of into the transport, and publishes membership events to subscribers.
import { ANY_INCARNATION, defineActor, isActorRef, refToString, type ActorContext, type ActorRef, type AnyRef, type Behavior, type Query } from '../actors/index.ts';
import { UltraError } from '../errors.ts';
import { DEFAULT_MAX_MEMBERS, MembershipCore, parseMembers, type Member, type MembershipChange, type MembershipEvent } from './membership-core.ts';

export const MEMBERSHIP_NAME = 'membership';
export const MEMBERSHIP_PATH = `/system/${MEMBERSHIP_NAME}`;

export type PeerStatusChange = { readonly node: string; readonly status: 'up' } | { readonly node: string; readonly status: 'down'; readonly reason: string };

/** What membership needs from the node transport; Libp2pTransport satisfies it as is. */
export interface PeerPort {
  /** Admits and dials a peer (multiaddr ending in /p2p/<id>); returns its node id. Throws on a bad address. */
  addPeer(address: string): string;
  onPeerStatus(listener: (change: PeerStatusChange) => void): () => void;
}

export interface MembershipOptions {
  readonly self: { readonly node: string; readonly addresses: string[] };
  /** Multiaddrs (with /p2p/<id>) of nodes to join through. */
  readonly seeds: string[];
  readonly peers: PeerPort;
  /** Default 1000. */
  readonly gossipIntervalMs?: number;
  /** How long a suspect member has to refute before it is declared down. Default 5 gossip intervals. */
  readonly suspectTimeoutMs?: number;
  /** Default 1000; tombstones count. */
  readonly maxMembers?: number;
  /**
   * This incarnation's version for its own entry; must exceed any earlier incarnation's.
   * Default: the wall clock at start (ms).
   */
  readonly selfVersion?: number;
}

export interface MembershipGossip {
  readonly type: 'membership.gossip';
  readonly from: string;
  readonly members: readonly Member[];
}

export interface MembershipStats {
  readonly members: number;
  readonly subscribers: number;
  readonly malformedGossip: number;
  /** Gossiped entries for unknown nodes refused because the view was full. */
  readonly overflow: number;
  /** Peer addresses the transport refused. */
  readonly badAddresses: number;
}

export type MembershipMsg =
  | ({ readonly type: 'members' } & Query<Member[]>)
  | { readonly type: 'subscribe'; readonly subscriber: ActorRef<MembershipEvent> }
  | { readonly type: 'unsubscribe'; readonly subscriber: ActorRef<MembershipEvent> }
  | ({ readonly type: 'admit'; readonly address: string } & Query<string>)
  | ({ readonly type: 'remove'; readonly node: string } & Query<boolean>)
  | ({ readonly type: 'stats' } & Query<MembershipStats>)
  | MembershipGossip
  | { readonly type: 'membership.tick' }
  | { readonly type: 'membership.peer-status'; readonly change: PeerStatusChange }
  | { readonly type: 'membership.suspect-timeout'; readonly node: string; readonly version: number }
  | { readonly type: 'membership.subscriber-terminated'; readonly subscriber: AnyRef };

const MAX_SUBSCRIBERS = 10_000;

interface State {
  readonly core: MembershipCore;
  readonly subscribers: Map<string, ActorRef<MembershipEvent>>;
  readonly stopListening: () => void;
  malformedGossip: number;
  overflow: number;
  badAddresses: number;
}

/** Where the membership actor of `node` lives. */
export function membershipRef(node: string): ActorRef<MembershipMsg> {
  return { node, path: MEMBERSHIP_PATH, uid: ANY_INCARNATION };
}

export function membershipActor(options: MembershipOptions): Behavior<State, MembershipMsg> {
  const gossipIntervalMs = options.gossipIntervalMs ?? 1000;
  const suspectTimeoutMs = options.suspectTimeoutMs ?? 5 * gossipIntervalMs;
  const maxMembers = options.maxMembers ?? DEFAULT_MAX_MEMBERS;
  const peers = options.peers;

  function gossipTo(state: State, node: string, ctx: ActorContext<MembershipMsg>): void {
    ctx.tell(membershipRef(node), { type: 'membership.gossip', from: state.core.self, members: state.core.members() });
  }

  /** Carries out a core step: admit new peer addresses, (re)arm suspicion timers, publish events. */
  function apply(state: State, change: MembershipChange, ctx: ActorContext<MembershipMsg>): void {
    for (const address of change.dial) {
      try {
        peers.addPeer(address);
      } catch (error) {
        state.badAddresses++;
        ctx.log.warn({ address, err: UltraError.from(error).message }, 'membership: transport refused a member address');
      }
    }
    for (const event of change.events) {
      const { node, version } = event.member;
      if (event.type === 'member-suspect') ctx.timers.startSingle(`suspect:${node}`, { type: 'membership.suspect-timeout', node, version }, suspectTimeoutMs);
      else ctx.timers.cancel(`suspect:${node}`);
      for (const subscriber of state.subscribers.values()) ctx.tell(subscriber, event);
    }
  }

  return defineActor<State, MembershipMsg>({
    init(ctx) {
      const core = new MembershipCore(options.self, options.selfVersion ?? ctx.env.now(), maxMembers);
      // Transport callbacks run outside the actor: they only post a message to it.
      const stopListening = peers.onPeerStatus((change) => ctx.tell(ctx.self, { type: 'membership.peer-status', change }));
      const state: State = { core, subscribers: new Map(), stopListening, malformedGossip: 0, overflow: 0, badAddresses: 0 };
      for (const seed of options.seeds) {
        try {
          apply(state, core.admit(peers.addPeer(seed), seed), ctx);
        } catch (error) {
          state.badAddresses++;
          ctx.log.warn({ seed, err: UltraError.from(error).message }, 'membership: seed refused');
        }
      }
      ctx.timers.startPeriodic('gossip', { type: 'membership.tick' }, gossipIntervalMs);
      return state;
    },

    receive(state, msg, ctx) {
      const core = state.core;
      switch (msg.type) {
        case 'members':
          ctx.reply(msg, core.members());
          return state;
        case 'subscribe': {
          if (!isActorRef(msg.subscriber)) break;
          const key = refToString(msg.subscriber);
          if (state.subscribers.has(key)) return state;
          if (state.subscribers.size >= MAX_SUBSCRIBERS) {
            ctx.log.warn({ subscriber: key }, 'membership: too many subscribers; subscription refused');
            return state;
          }
          state.subscribers.set(key, msg.subscriber);
          ctx.watch(msg.subscriber as AnyRef, (t) => ({ type: 'membership.subscriber-terminated', subscriber: t.ref }));
          for (const event of core.snapshotEvents()) ctx.tell(msg.subscriber, event);
          return state;
        }
        case 'unsubscribe':
        case 'membership.subscriber-terminated': {
          if (!isActorRef(msg.subscriber)) break;
          if (state.subscribers.delete(refToString(msg.subscriber)) && msg.type === 'unsubscribe') ctx.unwatch(msg.subscriber as AnyRef);
          return state;
        }
        case 'admit': {
          let node: string;
          try {
            if (typeof msg.address !== 'string') throw new UltraError('InvalidArgument', 'admit needs an address string');
            node = peers.addPeer(msg.address);
            apply(state, core.admit(node, msg.address), ctx);
          } catch (error) {
            ctx.replyError(msg, UltraError.from(error));
            return state;
          }
          // The new node learns the cluster from us at once; the rest hear of it by gossip.
          gossipTo(state, node, ctx);
          const other = core.gossipTarget(() => ctx.env.random());
          if (other !== undefined && other !== node) gossipTo(state, other, ctx);
          ctx.reply(msg, node);
          return state;
        }
        case 'remove': {
          let removed: boolean;
          try {
            if (typeof msg.node !== 'string') throw new UltraError('InvalidArgument', 'remove needs a node id');
            const result = core.remove(msg.node);
            apply(state, result, ctx);
            removed = result.removed;
          } catch (error) {
            ctx.replyError(msg, UltraError.from(error));
            return state;
          }
          const target = removed ? core.gossipTarget(() => ctx.env.random()) : undefined;
          if (target !== undefined) gossipTo(state, target, ctx);
          ctx.reply(msg, removed);
          return state;
        }
        case 'stats':
          ctx.reply(msg, { members: core.size, subscribers: state.subscribers.size, malformedGossip: state.malformedGossip, overflow: state.overflow, badAddresses: state.badAddresses });
          return state;
        case 'membership.gossip': {
          const members = parseMembers(msg.members, maxMembers);
          if (typeof msg.from !== 'string' || members === undefined) break;
          const result = core.merge(members);
          state.overflow += result.overflow;
          apply(state, result, ctx);
          if (result.senderBehind && msg.from !== core.self) gossipTo(state, msg.from, ctx);
          return state;
        }
        case 'membership.tick': {
          const target = core.gossipTarget(() => ctx.env.random());
          if (target !== undefined) gossipTo(state, target, ctx);
          return state;
        }
        case 'membership.peer-status': {
          const change = msg.change;
          if (typeof change !== 'object' || change === null || typeof change.node !== 'string') break;
          if (change.status === 'up') {
            // A (re)connected peer syncs with us now: it learns the view, or that it must refute.
            if (core.get(change.node) !== undefined) gossipTo(state, change.node, ctx);
          } else {
            // A clean shutdown is certain; a lost connection may be a blip the node can refute.
            apply(state, core.observeDown(change.node, change.reason === 'goodbye' ? 'down' : 'suspect'), ctx);
          }
          return state;
        }
        case 'membership.suspect-timeout':
          apply(state, core.confirmDown(msg.node, msg.version), ctx);
          return state;
      }
      // Only messages from the network get here: wrong shapes or unknown types. Count, never crash.
      state.malformedGossip++;
      ctx.log.debug({ type: (msg as { type?: unknown }).type }, 'membership: malformed message dropped');
      return state;
    },

    onStop(state) {
      state.stopListening();
    },
  });
}
