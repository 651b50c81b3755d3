// The actor messages of prismnet's controller and per-node dataplane, as other components (and
// prismnet's own client) send them. Both actors are found through the receptionist under the
// service names below, so callers reach them wherever they run. Every field is plain data.
import type { Query } from '../../../runtime/actors/index.ts';
import type { NetworkPorts, PortBinding, PortSpec, PortView, ProbeResult, TenantScope } from './network-ports.ts';

export const CONTROLLER_SERVICE = 'prismnet-controller';
export const DATAPLANE_SERVICE = 'prismnet-dataplane';

/** How a bound port attaches: a tap (default), or a veth into the workload's namespace. */
export interface BindPortOptions {
  readonly workloadNetns?: string;
  /** Name of the veth end inside the workload's namespace (default eth0). */
  readonly ifname?: string;
}

/** NetworkPorts, plus the veth attachment for namespace workloads (containers, test "VMs") and a lookup by owner. */
export interface PrismnetPorts extends NetworkPorts {
  bindPort(scope: TenantScope, portId: string, node: string, options?: BindPortOptions): Promise<PortBinding>;
  /** Every port of the project owned by `deviceOwner`/`deviceId` (e.g. a VM's NICs, including one created just before a crash). */
  listDevicePorts(scope: TenantScope, deviceOwner: string, deviceId: string): Promise<PortView[]>;
}

export type ControllerMsg =
  | ({ readonly type: 'prismnet.create-port'; readonly scope: TenantScope; readonly spec: PortSpec } & Query<PortView>)
  | ({ readonly type: 'prismnet.get-port'; readonly scope: TenantScope; readonly portId: string } & Query<PortView>)
  | ({ readonly type: 'prismnet.bind-port'; readonly scope: TenantScope; readonly portId: string; readonly node: string; readonly options?: BindPortOptions } & Query<PortBinding>)
  | ({ readonly type: 'prismnet.unbind-port'; readonly scope: TenantScope; readonly portId: string } & Query<null>)
  | ({ readonly type: 'prismnet.delete-port'; readonly scope: TenantScope; readonly portId: string } & Query<null>)
  | ({ readonly type: 'prismnet.probe'; readonly scope: TenantScope; readonly portId: string; readonly timeoutMs: number } & Query<ProbeResult>)
  | ({ readonly type: 'prismnet.list-device-ports'; readonly scope: TenantScope; readonly deviceOwner: string; readonly deviceId: string } & Query<PortView[]>);

/** What a node's dataplane made of a port in its latest pass. */
export interface DataplanePortReport {
  readonly state: 'down' | 'active' | 'error';
  readonly message?: string;
  readonly device: string;
  readonly netns?: string;
}

export interface DataplaneStatus {
  readonly node: string;
  readonly driver: string;
  readonly passes: number;
  readonly lastPassMs: number | null;
  readonly lastError: string | null;
  readonly ports: number;
  readonly activePorts: number;
}

export type DataplaneMsg =
  /** Reconcile now; the reply is the port's realization after that pass (null when the port is not bound here). */
  | ({ readonly type: 'prismnet.dataplane.sync'; readonly portId?: string } & Query<DataplanePortReport | null>)
  | ({ readonly type: 'prismnet.dataplane.probe'; readonly vpcId: string; readonly subnetId: string; readonly ip: string; readonly timeoutMs: number } & Query<ProbeResult>)
  | ({ readonly type: 'prismnet.dataplane.status' } & Query<DataplaneStatus>)
  | { readonly type: 'prismnet.dataplane.changed'; readonly portId?: string; readonly version?: number }
  | { readonly type: 'prismnet.dataplane.pass' }
  | { readonly type: 'prismnet.dataplane.feed-reset' };
