// The PeerPort of a simulated node incarnation: what membership (runtime/cluster/membership-actor.ts)
// needs from a transport — admit a peer by address, hear when its connection comes up or goes down —
// derived from the simulated network's connection state, as Libp2pTransport derives it from its
// streams and heartbeats. A simulated node's address is `/sim/<node id>`.
//
// Like the libp2p transport, it reports only peers it admitted, and only transitions: 'up' when a
// connection to the peer forms (or recovers before the failure detector gave up on it), 'down' with
// the network's reason when the connection is reset (a partition or pause past the detection
// timeout, a crash, a restart). A partition healed in time is never reported: TCP rode it out.
import type { PeerPort, PeerStatusChange } from '../runtime/cluster/membership-actor.ts';
import { UltraError } from '../runtime/errors.ts';
import type { SimTransport } from './network.ts';
import type { NodeEnv } from './node-env.ts';

const ADDRESS = /^\/sim\/([^/]+)$/;

/** The address a simulated node listens on. */
export function simAddress(node: string): string {
  return `/sim/${node}`;
}

export class SimPeerPort implements PeerPort {
  readonly #transport: SimTransport;
  readonly #env: NodeEnv;
  /** Admitted peers and what was last reported about each ('connecting' until the first report). */
  readonly #status = new Map<string, 'connecting' | 'up' | 'down'>();
  readonly #listeners = new Set<(change: PeerStatusChange) => void>();

  constructor(transport: SimTransport, env: NodeEnv) {
    this.#transport = transport;
    this.#env = env;
    transport.watchPeers((change) => this.#report(change));
  }

  addPeer(address: string): string {
    const node = ADDRESS.exec(address)?.[1];
    if (node === undefined) throw new UltraError('InvalidArgument', `simulated peer address ${JSON.stringify(address)} is not /sim/<node>`);
    if (node === this.#transport.localNode) throw new UltraError('InvalidArgument', `peer address ${address} names this node`);
    if (!this.#status.has(node)) {
      this.#status.set(node, 'connecting');
      // A dial: a peer whose connection already works is reported up a moment later, never from
      // inside the call (the caller may be halfway through its own state change).
      this.#env.setTimer(0, () => {
        if (this.#transport.connected(node)) this.#report({ node, status: 'up' });
      });
    }
    return node;
  }

  onPeerStatus(listener: (change: PeerStatusChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #report(change: PeerStatusChange): void {
    const last = this.#status.get(change.node);
    if (last === undefined || last === change.status) return;
    this.#status.set(change.node, change.status);
    for (const listener of this.#listeners) listener(change);
  }
}
