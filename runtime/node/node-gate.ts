// The access gate a node hands its components (runtime/http/access.ts). Before iam is part of the
// cluster, the cluster admin credential is the only identity.
import type { ActorRef, ActorSystem } from '../actors/index.ts';
import type { ReceptionistMsg } from '../cluster/receptionist.ts';
import { adminTokenGate, type AccessGate } from '../http/access.ts';

export interface NodeGateOptions {
  readonly system: ActorSystem;
  readonly receptionist: ActorRef<ReceptionistMsg>;
  readonly adminToken: string;
}

export function createNodeGate(options: NodeGateOptions): AccessGate {
  return adminTokenGate(options.adminToken);
}
