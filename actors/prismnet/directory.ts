// Finding prismnet's actors through the receptionist: the dataplane of a given node (for binds,
// unbinds and probes) and any controller (for the NetworkPorts client). Lookups go to the local
// receptionist, which sees every node's registrations, so this works in one process and across a
// cluster alike.
import type { ActorRef, ActorSystem, AnyRef } from '../../runtime/actors/index.ts';
import type { ReceptionistMsg } from '../../runtime/cluster/receptionist.ts';
import { UltraError } from '../../runtime/errors.ts';
import { CONTROLLER_SERVICE, DATAPLANE_SERVICE, type ControllerMsg, type DataplaneMsg, type DataplanePortReport } from './client/messages.ts';
import type { ProbeResult } from './client/network-ports.ts';
import type { DataplaneDirectory } from './service.ts';

const LOOKUP_TIMEOUT_MS = 5_000;

export async function lookupService(system: ActorSystem, receptionist: ActorRef<ReceptionistMsg>, service: string): Promise<AnyRef[]> {
  return system.ask(receptionist, { type: 'lookup', service }, { timeoutMs: LOOKUP_TIMEOUT_MS });
}

export class ReceptionistDataplanes implements DataplaneDirectory {
  readonly #system: ActorSystem;
  readonly #receptionist: ActorRef<ReceptionistMsg>;

  constructor(system: ActorSystem, receptionist: ActorRef<ReceptionistMsg>) {
    this.#system = system;
    this.#receptionist = receptionist;
  }

  async #ref(node: string): Promise<ActorRef<DataplaneMsg>> {
    const refs = await lookupService(this.#system, this.#receptionist, DATAPLANE_SERVICE);
    const ref = refs.find((r) => r.node === node);
    if (ref === undefined) {
      const nodes = [...new Set(refs.map((r) => r.node))];
      throw new UltraError('Unavailable', `node ${node} runs no prismnet dataplane${nodes.length > 0 ? ` (dataplanes run on: ${nodes.join(', ')})` : ''}; add prismnet to its components or pick another node`);
    }
    return ref as ActorRef<DataplaneMsg>;
  }

  async require(node: string): Promise<void> {
    await this.#ref(node);
  }

  async sync(node: string, portId: string | undefined, timeoutMs: number): Promise<DataplanePortReport | null> {
    return this.#system.ask(await this.#ref(node), { type: 'prismnet.dataplane.sync', ...(portId === undefined ? {} : { portId }) }, { timeoutMs });
  }

  async probe(node: string, target: { vpcId: string; subnetId: string; ip: string }, timeoutMs: number): Promise<ProbeResult> {
    return this.#system.ask(await this.#ref(node), { type: 'prismnet.dataplane.probe', ...target, timeoutMs }, { timeoutMs: timeoutMs + 5_000 });
  }
}

/** Any controller: the local one first (no network hop), else the first registered. */
export async function findController(system: ActorSystem, receptionist: ActorRef<ReceptionistMsg>): Promise<ActorRef<ControllerMsg>> {
  const refs = await lookupService(system, receptionist, CONTROLLER_SERVICE);
  const ref = refs.find((r) => r.node === system.nodeId) ?? refs[0];
  if (ref === undefined) throw new UltraError('Unavailable', 'no prismnet controller is running in the cluster; add prismnet to a node\'s components');
  return ref as ActorRef<ControllerMsg>;
}
