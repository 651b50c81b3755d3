// The access gate a node hands its components (runtime/http/access.ts): iam's gate
// (actors/iam/gate/iam-gate.ts). It accepts the cluster admin credential as the break-glass
// system identity at all times, and iam access tokens once iam runs somewhere in the cluster —
// verified locally against iam's published keys, authorized by iam's decision point with a local
// cache of bounded staleness. In a cluster without iam only the admin credential works.
import type { ActorRef, ActorSystem } from '../actors/index.ts';
import type { ReceptionistMsg } from '../cluster/receptionist.ts';
import type { AccessGate } from '../http/access.ts';
import { createIamGate } from '../../actors/iam/gate/iam-gate.ts';

export interface NodeGateOptions {
  readonly system: ActorSystem;
  readonly receptionist: ActorRef<ReceptionistMsg>;
  readonly adminToken: string;
}

export function createNodeGate(options: NodeGateOptions): AccessGate {
  return createIamGate({ system: options.system, receptionist: options.receptionist, adminToken: options.adminToken });
}
