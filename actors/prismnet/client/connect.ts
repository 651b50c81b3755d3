// The NetworkPorts client other components use: `connectPrismnet(ctx)` with the component context
// the node hands every component (or any { system, receptionist }). Each call finds a prismnet
// controller through the receptionist (the local one when there is one) and asks it, so the caller
// works wherever prismnet runs.
import type { ActorRef, ActorSystem } from '../../../runtime/actors/index.ts';
import type { ReceptionistMsg } from '../../../runtime/cluster/receptionist.ts';
import { findController } from '../directory.ts';
import type { BindPortOptions, ControllerMsg, PrismnetPorts } from './messages.ts';
import type { PortBinding, PortSpec, PortView, ProbeResult, TenantScope } from './network-ports.ts';

export interface PrismnetClientContext {
  readonly system: ActorSystem;
  readonly receptionist: ActorRef<ReceptionistMsg>;
}

export interface PrismnetClientOptions {
  /** Timeout of quick calls (default 15 s). */
  readonly timeoutMs?: number;
  /** Timeout of calls that wait for a node's dataplane: bind, unbind, delete (default 90 s). */
  readonly realizeTimeoutMs?: number;
}

export function connectPrismnet(ctx: PrismnetClientContext, options: PrismnetClientOptions = {}): PrismnetPorts {
  const quick = options.timeoutMs ?? 15_000;
  const slow = options.realizeTimeoutMs ?? 90_000;
  const ask = async <const Q extends ControllerMsg>(message: Q, timeoutMs: number) => ctx.system.ask(await findController(ctx.system, ctx.receptionist), message, { timeoutMs });
  return {
    createPort: (scope: TenantScope, spec: PortSpec): Promise<PortView> => ask({ type: 'prismnet.create-port', scope, spec }, quick),
    getPort: (scope: TenantScope, portId: string): Promise<PortView> => ask({ type: 'prismnet.get-port', scope, portId }, quick),
    bindPort: (scope: TenantScope, portId: string, node: string, bind?: BindPortOptions): Promise<PortBinding> => ask({ type: 'prismnet.bind-port', scope, portId, node, ...(bind === undefined ? {} : { options: bind }) }, slow),
    unbindPort: async (scope: TenantScope, portId: string): Promise<void> => void (await ask({ type: 'prismnet.unbind-port', scope, portId }, slow)),
    deletePort: async (scope: TenantScope, portId: string): Promise<void> => void (await ask({ type: 'prismnet.delete-port', scope, portId }, slow)),
    probe: (scope: TenantScope, portId: string, timeoutMs: number): Promise<ProbeResult> => ask({ type: 'prismnet.probe', scope, portId, timeoutMs }, timeoutMs + 10_000),
    listDevicePorts: (scope: TenantScope, deviceOwner: string, deviceId: string): Promise<PortView[]> => ask({ type: 'prismnet.list-device-ports', scope, deviceOwner, deviceId }, quick),
  };
}
