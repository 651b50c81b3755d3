// Finding agents by node through the cluster's receptionist: a small actor subscribes to the
// agents' service and keeps the latest listing, which the API and the agents read synchronously.
import { defineActor, type ActorRef, type Behavior } from '../../runtime/actors/index.ts';
import type { ReceptionistMsg, ServiceListing } from '../../runtime/cluster/receptionist.ts';
import { AGENT_SERVICE, type AgentDirectory, type AgentMsg } from './protocol.ts';

/** Agents by node id, as last listed (a node runs at most one agent). */
export class ListingDirectory implements AgentDirectory {
  readonly #agents = new Map<string, ActorRef<AgentMsg>>();

  agent(node: string): ActorRef<AgentMsg> | undefined {
    return this.#agents.get(node);
  }

  nodes(): string[] {
    return [...this.#agents.keys()].sort();
  }

  replace(refs: readonly ActorRef<AgentMsg>[]): void {
    this.#agents.clear();
    for (const ref of refs) this.#agents.set(ref.node, ref);
  }
}

/** Keeps `directory` in step with the receptionist's listing of the agents' service. */
export function directorySubscriber(receptionist: ActorRef<ReceptionistMsg>, directory: ListingDirectory): Behavior<null, ServiceListing> {
  return defineActor<null, ServiceListing>({
    init(ctx) {
      ctx.tell(receptionist, { type: 'subscribe', service: AGENT_SERVICE, subscriber: ctx.self });
      return null;
    },
    receive(state, msg) {
      if (msg.type === 'service-listing' && msg.service === AGENT_SERVICE) directory.replace(msg.refs as unknown as ActorRef<AgentMsg>[]);
      return state;
    },
  });
}
