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
  #unroutable = 0;

  constructor(system: ActorSystem) {
    this.#system = system;
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

  get unroutable(): number {
    return this.#unroutable;
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
    let byNode = this.#outboundWatches.get(target.node);
    if (byNode === undefined) this.#outboundWatches.set(target.node, (byNode = new Map()));
    byNode.set(`${refToString(target)}>${refToString(watcher)}`, { target, watcher });
    this.#send(target.node, { k: 'watch', target, watcher });
  }

  unwatch(target: AnyRef, watcher: AnyRef): void {
    this.#outboundWatches.get(target.node)?.delete(`${refToString(target)}>${refToString(watcher)}`);
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
        system.watch(e.target, e.watcher);
        return;
      case 'unwatch':
        system.unwatch(e.target, e.watcher);
        return;
      case 'terminated':
        this.#outboundWatches.get(from)?.delete(`${refToString(e.terminated.ref)}>${refToString(e.watcher)}`);
        system.sendTerminated(e.watcher, e.terminated);
        return;
    }
  }

  peerDown(node: string): void {
    const watches = this.#outboundWatches.get(node);
    this.#outboundWatches.delete(node);
    for (const { target, watcher } of watches?.values() ?? []) {
      this.#system.sendTerminated(watcher, { type: 'terminated', ref: target, reason: 'node-down' });
    }
  }

  #transportFor(node: string): Transport | undefined {
    for (const t of this.#transports) if (t.reaches(node)) return t;
    return undefined;
  }

  #send(node: string, envelope: Envelope): void {
    const transport = this.#transportFor(node);
    if (transport === undefined) {
      this.#unroutable++;
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
