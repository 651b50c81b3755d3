// Connects an ActorSystem to its transports: outbound it turns remote tells, replies and watches
// into envelopes for the transport that reaches the destination; inbound it hands envelopes to the
// system. It also owns remote death-watch: when a peer goes down, every watch on an actor of that
// node fires Terminated with reason 'node-down'.
import type { ActorSystem, AnyRef, AskReply, RemoteRouter, ReplyAddress, Terminated } from '../runtime/actors/index.ts';
import { refToString } from '../runtime/actors/index.ts';
import type { Envelope, Transport, TransportHandler } from './transport.ts';

interface RemoteWatch {
  readonly target: AnyRef;
  readonly watcher: AnyRef;
}

export class ClusterRouter implements RemoteRouter, TransportHandler {
  readonly #system: ActorSystem;
  readonly #transports: Transport[] = [];
  /** Watches by local watchers on actors of other nodes: node → key → watch. */
  readonly #outboundWatches = new Map<string, Map<string, RemoteWatch>>();
  /** Watches by other nodes' watchers on local actors: watcher node → key → watch. */
  readonly #inboundWatches = new Map<string, Map<string, RemoteWatch>>();
  readonly #unroutable: { inc(): void };

  constructor(system: ActorSystem) {
    this.#system = system;
    this.#unroutable = system.metrics.counter({ name: 'ultracloud_router_unroutable_envelopes_total', help: 'Envelopes for a node no transport reaches (dropped).' });
    system.setRemoteRouter(this);
  }

  addTransport(transport: Transport): void {
    this.#transports.push(transport);
    transport.setHandler(this);
  }

  removeTransport(transport: Transport): void {
    const i = this.#transports.indexOf(transport);
    if (i >= 0) this.#transports.splice(i, 1);
  }

  // ── Outbound (RemoteRouter) ──────────────────────────────────────────────

  reaches(node: string): boolean {
    return this.#transportFor(node) !== undefined;
  }

  deliver(target: AnyRef, message: unknown, replyTo: ReplyAddress | undefined): void {
    this.#send(target.node, replyTo === undefined ? { k: 'tell', to: target, msg: message } : { k: 'tell', to: target, msg: message, reply: replyTo });
  }

  sendReply(address: ReplyAddress, reply: AskReply): void {
    this.#send(address.node, { k: 'reply', to: address, reply });
  }

  watch(target: AnyRef, watcher: AnyRef): void {
    watchesOf(this.#outboundWatches, target.node).set(watchKey(target, watcher), { target, watcher });
    this.#send(target.node, { k: 'watch', target, watcher });
  }

  unwatch(target: AnyRef, watcher: AnyRef): void {
    this.#outboundWatches.get(target.node)?.delete(watchKey(target, watcher));
    this.#send(target.node, { k: 'unwatch', target, watcher });
  }

  sendTerminated(watcher: AnyRef, terminated: Terminated): void {
    this.#send(watcher.node, { k: 'terminated', watcher, terminated });
  }

  // ── Inbound (TransportHandler) ───────────────────────────────────────────

  envelope(from: string, e: Envelope): void {
    const system = this.#system;
    const destination = destinationOf(e);
    if (destination !== system.nodeId) {
      // Not for us: relay (a worker thread reaches other workers and nodes through its parent).
      this.#send(destination, e);
      return;
    }
    switch (e.k) {
      case 'tell':
        system.deliverLocal(e.to, e.msg, e.reply);
        return;
      case 'reply':
        system.deliverReply(e.to.askId, e.reply);
        return;
      case 'watch':
        watchesOf(this.#inboundWatches, e.watcher.node).set(watchKey(e.target, e.watcher), { target: e.target, watcher: e.watcher });
        system.watch(e.target, e.watcher);
        return;
      case 'unwatch':
        this.#inboundWatches.get(e.watcher.node)?.delete(watchKey(e.target, e.watcher));
        system.unwatch(e.target, e.watcher);
        return;
      case 'terminated':
        // Keyed by the watched actor's node, which differs from `from` for a peer's worker threads.
        this.#outboundWatches.get(e.terminated.ref.node)?.delete(watchKey(e.terminated.ref, e.watcher));
        system.sendTerminated(e.watcher, e.terminated);
        return;
    }
  }

  peerDown(node: string): void {
    for (const down of nodeAndSubNodes(this.#outboundWatches, node)) {
      const watches = this.#outboundWatches.get(down)!;
      this.#outboundWatches.delete(down);
      for (const { target, watcher } of watches.values()) {
        this.#system.sendTerminated(watcher, { type: 'terminated', ref: target, reason: 'node-down' });
      }
    }
    // Watchers on the dead node will never hear from us again: forget them.
    for (const down of nodeAndSubNodes(this.#inboundWatches, node)) {
      for (const { target, watcher } of this.#inboundWatches.get(down)!.values()) this.#system.unwatch(target, watcher);
      this.#inboundWatches.delete(down);
    }
    this.#system.nodeDown(node);
  }

  #transportFor(node: string): Transport | undefined {
    for (const t of this.#transports) if (t.reaches(node)) return t;
    return undefined;
  }

  #send(node: string, envelope: Envelope): void {
    const transport = this.#transportFor(node);
    if (transport === undefined) {
      this.#unroutable.inc();
      if (envelope.k === 'watch') this.peerDown(node);
      return;
    }
    transport.send(node, envelope);
  }
}

function destinationOf(e: Envelope): string {
  switch (e.k) {
    case 'tell':
      return e.to.node;
    case 'reply':
      return e.to.node;
    case 'watch':
    case 'unwatch':
      return e.target.node;
    case 'terminated':
      return e.watcher.node;
  }
}

function watchKey(target: AnyRef, watcher: AnyRef): string {
  return `${refToString(target)}>${refToString(watcher)}`;
}

function watchesOf(table: Map<string, Map<string, RemoteWatch>>, node: string): Map<string, RemoteWatch> {
  let byNode = table.get(node);
  if (byNode === undefined) table.set(node, (byNode = new Map()));
  return byNode;
}

/** `node` and its worker sub-nodes (`node~name`) that have entries in `table`. */
function nodeAndSubNodes(table: Map<string, unknown>, node: string): string[] {
  return [...table.keys()].filter((n) => n === node || n.startsWith(`${node}~`));
}
