// Helpers for the simulator's own tests: a bare network of recording endpoints, and a way to await
// a promise that only settles when virtual time moves.
import { Prng } from '../../runtime/env/prng.ts';
import { VirtualScheduler } from '../../runtime/env/virtual-env.ts';
import type { Envelope, Transport } from '../../transports/transport.ts';
import { Counters } from '../../sim/counters.ts';
import { NO_LINK_FAULTS, SimNetwork, type NetworkOptions } from '../../sim/network.ts';
import { NodeEnv } from '../../sim/node-env.ts';

/** Steps the scheduler until `promise` settles; fails if the simulation runs out of events first. */
export async function settle<T>(scheduler: VirtualScheduler, promise: Promise<T>): Promise<T> {
  let done = false;
  const observed = promise.finally(() => {
    done = true;
  });
  await scheduler.runUntil(() => done, 1_000_000);
  return observed;
}

export interface Endpoint {
  readonly env: NodeEnv;
  readonly transport: Transport;
  readonly received: Array<{ readonly from: string; readonly envelope: Envelope; readonly at: number }>;
  readonly peerDowns: Array<{ readonly node: string; readonly at: number }>;
}

export const NETWORK: NetworkOptions = { detectionTimeoutMs: 1_000, minLatencyMs: 1, maxLatencyMs: 5 };

/** A network whose endpoints record what reaches them. */
export function recordingNetwork(seed = 1) {
  const scheduler = new VirtualScheduler(seed);
  const counters = new Counters();
  const network = new SimNetwork(scheduler, new Prng(`net/${seed}`), counters, NETWORK, NO_LINK_FAULTS);
  const attach = (node: string, incarnation = 1): Endpoint => {
    const env = new NodeEnv(scheduler, { name: `${node}#${incarnation}` }, counters);
    const transport = network.attach(node, incarnation, env);
    const endpoint: Endpoint = { env, transport, received: [], peerDowns: [] };
    transport.setHandler({
      envelope: (from, envelope) => endpoint.received.push({ from, envelope, at: scheduler.now }),
      peerDown: (peer) => endpoint.peerDowns.push({ node: peer, at: scheduler.now }),
    });
    return endpoint;
  };
  return { scheduler, counters, network, attach };
}

/** A numbered tell to an actor on `node`. */
export function tell(node: string, n: number, payload: object = {}): Envelope {
  return { k: 'tell', to: { node, path: '/user/sink', uid: 1 }, msg: { type: 'n', n, ...payload } };
}

/** The numbers of the tells an endpoint received, in arrival order. */
export function numbers(endpoint: Endpoint): number[] {
  return endpoint.received.map(({ envelope }) => (envelope.k === 'tell' ? (envelope.msg as { n: number }).n : -1));
}
