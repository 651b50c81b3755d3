// The receptionist (/system/receptionist): a cluster-wide service registry. Actors register under
// a service name on their own node; each node owns its registrations and pushes them to the
// receptionists of every up member, so a lookup anywhere sees every node's registrations.
// A registration ends when its actor terminates, when it is deregistered, or when its node goes
// down or is removed (membership events).
import { ANY_INCARNATION, defineActor, isActorRef, refToString, type ActorContext, type ActorRef, type AnyRef, type Behavior, type Query } from '../actors/index.ts';
import { UltraError } from '../errors.ts';
import type { MembershipEvent } from './membership-core.ts';
import type { MembershipMsg } from './membership-actor.ts';

export const RECEPTIONIST_NAME = 'receptionist';
export const RECEPTIONIST_PATH = `/system/${RECEPTIONIST_NAME}`;

const SERVICE_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;
/** Per node: services, and refs under one service. */
export const MAX_SERVICES = 1000;
export const MAX_REFS_PER_SERVICE = 1000;
const MAX_NODES = 1000;
const MAX_SUBSCRIBERS = 10_000;

export function isValidServiceName(value: unknown): value is string {
  return typeof value === 'string' && SERVICE_PATTERN.test(value);
}

export interface ServiceListing {
  readonly type: 'service-listing';
  readonly service: string;
  readonly refs: AnyRef[];
}

export interface ServiceEntry {
  readonly service: string;
  readonly refs: readonly AnyRef[];
}

export type ReceptionistMsg =
  | { readonly type: 'register'; readonly service: string; readonly ref: AnyRef }
  | { readonly type: 'deregister'; readonly service: string; readonly ref: AnyRef }
  | ({ readonly type: 'lookup'; readonly service: string } & Query<AnyRef[]>)
  | { readonly type: 'subscribe'; readonly service: string; readonly subscriber: ActorRef<ServiceListing> }
  | { readonly type: 'unsubscribe'; readonly service: string; readonly subscriber: ActorRef<ServiceListing> }
  /** A node's full listing, replacing what we hold for it; `reply` asks for ours in return. */
  | { readonly type: 'receptionist.sync'; readonly from: string; readonly listing: readonly ServiceEntry[]; readonly reply: boolean }
  /** One service of a node changed. */
  | { readonly type: 'receptionist.update'; readonly from: string; readonly service: string; readonly refs: readonly AnyRef[] }
  | { readonly type: 'receptionist.registrant-terminated'; readonly ref: AnyRef }
  | { readonly type: 'receptionist.subscriber-terminated'; readonly subscriber: AnyRef }
  | MembershipEvent;

export interface ReceptionistOptions {
  /** The local membership actor, whose events drive replication. */
  readonly membership: ActorRef<MembershipMsg>;
}

interface State {
  readonly self: string;
  /** node → service → refs; this node's own registrations included. */
  readonly byNode: Map<string, Map<string, AnyRef[]>>;
  /** Nodes membership reported up (receive our pushes) or down (their pushes are stale). */
  readonly nodes: Map<string, 'up' | 'down'>;
  /** service → subscriber key → subscriber. */
  readonly subscribers: Map<string, Map<string, ActorRef<ServiceListing>>>;
  subscriberCount: number;
}

export function receptionistRef(node: string): ActorRef<ReceptionistMsg> {
  return { node, path: RECEPTIONIST_PATH, uid: ANY_INCARNATION };
}

export function receptionist(options: ReceptionistOptions): Behavior<State, ReceptionistMsg> {
  return defineActor<State, ReceptionistMsg>({
    init(ctx) {
      ctx.tell(options.membership, { type: 'subscribe', subscriber: ctx.self });
      const self = ctx.system.nodeId;
      return { self, byNode: new Map([[self, new Map()]]), nodes: new Map(), subscribers: new Map(), subscriberCount: 0 };
    },

    receive(state, msg, ctx) {
      switch (msg.type) {
        case 'register':
        case 'deregister': {
          if (!isValidServiceName(msg.service) || !isActorRef(msg.ref) || !ownedBy(msg.ref, state.self)) break;
          const local = state.byNode.get(state.self)!;
          const refs = local.get(msg.service) ?? [];
          const i = refs.findIndex((r) => isSame(r, msg.ref));
          if (msg.type === 'register') {
            if (i >= 0) return state;
            if (refs.length >= MAX_REFS_PER_SERVICE || (refs.length === 0 && local.size >= MAX_SERVICES)) {
              ctx.log.warn({ service: msg.service }, 'receptionist: registry full; registration refused');
              return state;
            }
            local.set(msg.service, [...refs, msg.ref]);
            ctx.watch(msg.ref, (t) => ({ type: 'receptionist.registrant-terminated', ref: t.ref }));
          } else {
            if (i < 0) return state;
            setRefs(local, msg.service, refs.filter((_, j) => j !== i));
            if (!registeredAnywhere(local, msg.ref)) ctx.unwatch(msg.ref);
          }
          localChanged(state, [msg.service], ctx);
          return state;
        }
        case 'receptionist.registrant-terminated': {
          const local = state.byNode.get(state.self)!;
          const changed: string[] = [];
          for (const [service, refs] of local) {
            if (!refs.some((r) => isSame(r, msg.ref))) continue;
            setRefs(local, service, refs.filter((r) => !isSame(r, msg.ref)));
            changed.push(service);
          }
          localChanged(state, changed, ctx);
          return state;
        }
        case 'lookup':
          if (isValidServiceName(msg.service)) ctx.reply(msg, listing(state, msg.service));
          else ctx.replyError(msg, new UltraError('InvalidArgument', `invalid service name ${JSON.stringify(msg.service)}: expected [a-z][a-z0-9-]{0,62}`));
          return state;
        case 'subscribe': {
          if (!isValidServiceName(msg.service) || !isActorRef(msg.subscriber)) break;
          const key = refToString(msg.subscriber);
          let subs = state.subscribers.get(msg.service);
          if (subs?.has(key) !== true) {
            if (state.subscriberCount >= MAX_SUBSCRIBERS) {
              ctx.log.warn({ service: msg.service }, 'receptionist: too many subscribers; subscription refused');
              return state;
            }
            if (subs === undefined) state.subscribers.set(msg.service, (subs = new Map()));
            subs.set(key, msg.subscriber);
            state.subscriberCount++;
            ctx.watch(msg.subscriber as AnyRef, (t) => ({ type: 'receptionist.subscriber-terminated', subscriber: t.ref }));
          }
          ctx.tell(msg.subscriber, { type: 'service-listing', service: msg.service, refs: listing(state, msg.service) });
          return state;
        }
        case 'unsubscribe': {
          if (!isValidServiceName(msg.service) || !isActorRef(msg.subscriber)) break;
          const key = refToString(msg.subscriber);
          const subs = state.subscribers.get(msg.service);
          if (subs?.delete(key) !== true) return state;
          state.subscriberCount--;
          if (subs.size === 0) state.subscribers.delete(msg.service);
          if (!isSubscribed(state, key)) ctx.unwatch(msg.subscriber as AnyRef);
          return state;
        }
        case 'receptionist.subscriber-terminated': {
          if (!isActorRef(msg.subscriber)) break;
          const key = refToString(msg.subscriber);
          for (const [service, subs] of state.subscribers) {
            if (subs.delete(key)) state.subscriberCount--;
            if (subs.size === 0) state.subscribers.delete(service);
          }
          return state;
        }
        case 'receptionist.sync': {
          const entries = typeof msg.from === 'string' ? parseListing(msg.listing, msg.from) : undefined;
          if (entries === undefined) break;
          if (msg.from === state.self) return state;
          if (msg.reply === true) ctx.tell(receptionistRef(msg.from), syncMessage(state, false));
          if (!accepts(state, msg.from)) return state;
          const old = state.byNode.get(msg.from);
          const next = new Map(entries.map((e) => [e.service, e.refs]));
          state.byNode.set(msg.from, next);
          notify(state, [...new Set([...(old?.keys() ?? []), ...next.keys()])], ctx);
          return state;
        }
        case 'receptionist.update': {
          const entry = typeof msg.from === 'string' ? parseListing([{ service: msg.service, refs: msg.refs }], msg.from)?.[0] : undefined;
          if (entry === undefined) break;
          if (msg.from === state.self || !accepts(state, msg.from)) return state;
          let services = state.byNode.get(msg.from);
          if (services === undefined) state.byNode.set(msg.from, (services = new Map()));
          if (!services.has(entry.service) && services.size >= MAX_SERVICES) return state;
          setRefs(services, entry.service, entry.refs);
          notify(state, [entry.service], ctx);
          return state;
        }
        case 'member-up': {
          const node = msg.member.node;
          if (node === state.self) return state;
          state.nodes.set(node, 'up');
          ctx.tell(receptionistRef(node), syncMessage(state, true));
          return state;
        }
        case 'member-down':
        case 'member-removed': {
          const node = msg.member.node;
          if (node === state.self) return state;
          state.nodes.set(node, 'down');
          const services = state.byNode.get(node);
          state.byNode.delete(node);
          if (services !== undefined) notify(state, [...services.keys()], ctx);
          return state;
        }
        case 'member-joined':
        case 'member-suspect':
          return state;
      }
      ctx.log.debug({ type: (msg as { type?: unknown }).type }, 'receptionist: malformed message dropped');
      return state;
    },
  });
}

function isSame(a: AnyRef, b: AnyRef): boolean {
  return a.uid === b.uid && a.path === b.path && a.node === b.node;
}

/** A ref lives on `node` or on one of its worker threads (`node~name`). */
function ownedBy(ref: AnyRef, node: string): boolean {
  return ref.node === node || ref.node.startsWith(`${node}~`);
}

/** Pushes from a node membership declared down are stale; unknown nodes are accepted (their member-up may lag). */
function accepts(state: State, node: string): boolean {
  if (state.nodes.get(node) === 'down') return false;
  return state.byNode.has(node) || state.byNode.size < MAX_NODES;
}

function listing(state: State, service: string): AnyRef[] {
  const out: AnyRef[] = [];
  for (const services of state.byNode.values()) out.push(...(services.get(service) ?? []));
  return out;
}

function setRefs(services: Map<string, AnyRef[]>, service: string, refs: AnyRef[]): void {
  if (refs.length === 0) services.delete(service);
  else services.set(service, refs);
}

function registeredAnywhere(services: Map<string, AnyRef[]>, ref: AnyRef): boolean {
  for (const refs of services.values()) if (refs.some((r) => isSame(r, ref))) return true;
  return false;
}

function isSubscribed(state: State, key: string): boolean {
  for (const subs of state.subscribers.values()) if (subs.has(key)) return true;
  return false;
}

function syncMessage(state: State, reply: boolean): ReceptionistMsg {
  const listing = [...state.byNode.get(state.self)!].map(([service, refs]) => ({ service, refs }));
  return { type: 'receptionist.sync', from: state.self, listing, reply };
}

/** Local registrations changed: tell local subscribers and every up member's receptionist. */
function localChanged(state: State, services: string[], ctx: ActorContext<ReceptionistMsg>): void {
  const local = state.byNode.get(state.self)!;
  for (const service of services) {
    const refs = local.get(service) ?? [];
    for (const [node, status] of state.nodes) {
      if (status === 'up') ctx.tell(receptionistRef(node), { type: 'receptionist.update', from: state.self, service, refs });
    }
  }
  notify(state, services, ctx);
}

function notify(state: State, services: string[], ctx: ActorContext<ReceptionistMsg>): void {
  for (const service of services) {
    const subs = state.subscribers.get(service);
    if (subs === undefined) continue;
    const refs = listing(state, service);
    for (const subscriber of subs.values()) ctx.tell(subscriber, { type: 'service-listing', service, refs });
  }
}

/** Checks a node's pushed listing: valid names, refs owned by that node, within the bounds. */
function parseListing(value: unknown, from: string): { service: string; refs: AnyRef[] }[] | undefined {
  if (!Array.isArray(value) || value.length > MAX_SERVICES) return undefined;
  const out: { service: string; refs: AnyRef[] }[] = [];
  for (const item of value as unknown[]) {
    if (typeof item !== 'object' || item === null) return undefined;
    const { service, refs } = item as Record<string, unknown>;
    if (!isValidServiceName(service) || !Array.isArray(refs) || refs.length > MAX_REFS_PER_SERVICE) return undefined;
    const clean: AnyRef[] = [];
    for (const r of refs as unknown[]) {
      if (!isActorRef(r) || !ownedBy(r, from)) return undefined;
      clean.push({ node: r.node, path: r.path, uid: r.uid });
    }
    out.push({ service, refs: clean });
  }
  return out;
}
