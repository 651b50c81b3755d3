// What prismnet offers the components that attach workloads to tenant networks (plasmavmc now,
// k8shost later): ports on a subnet, bound to a node, where prismnet's dataplane on that node
// creates the tap device, plugs it into the subnet's bridge, applies the security groups and
// serves the port's fixed IP by DHCP. The consumer (e.g. QEMU) opens the tap by name inside
// `netns` when one is given. prismnet's client implements this over actor messages found
// through the receptionist, so it works wherever prismnet runs.

/** The tenant scope a request acts in (from the caller's token). */
export interface TenantScope {
  readonly org: string;
  readonly project: string;
}

export interface PortSpec {
  readonly subnetId: string;
  /** What owns the port, e.g. `compute:vm`. */
  readonly deviceOwner: string;
  /** The owning resource's id, e.g. the VM id. */
  readonly deviceId: string;
  /** Security groups by id; the VPC's default group when empty or absent. */
  readonly securityGroups?: readonly string[];
  /** A fixed IP inside the subnet; allocated by IPAM when absent. */
  readonly fixedIp?: string;
  /** A MAC address; generated when absent. */
  readonly mac?: string;
}

export type PortStatus = 'down' | 'building' | 'active' | 'error';

export interface PortView {
  readonly id: string;
  readonly org: string;
  readonly project: string;
  readonly vpcId: string;
  readonly subnetId: string;
  readonly mac: string;
  readonly fixedIps: readonly string[];
  readonly deviceOwner: string;
  readonly deviceId: string;
  readonly securityGroups: readonly string[];
  readonly status: PortStatus;
  /** The node the port is bound to, when bound. */
  readonly boundNode?: string;
}

/** Where a bound port is realized on its node. */
export interface PortBinding {
  readonly portId: string;
  /** The tap device the workload opens (`-netdev tap,ifname=<tap>,script=no,downscript=no`). */
  readonly tap: string;
  /** The network namespace the tap lives in, when the dataplane isolates VPCs by namespace. */
  readonly netns?: string;
  readonly mac: string;
  readonly ip: string;
  /** Prefix length of the subnet, e.g. 24. */
  readonly prefixLength: number;
  readonly gateway?: string;
  readonly mtu: number;
}

export interface ProbeResult {
  readonly reachable: boolean;
  readonly rttMs?: number;
}

export interface NetworkPorts {
  createPort(scope: TenantScope, spec: PortSpec): Promise<PortView>;
  getPort(scope: TenantScope, portId: string): Promise<PortView>;
  /** Realizes the port on `node` (idempotent); resolves once the tap exists and is plugged in. */
  bindPort(scope: TenantScope, portId: string, node: string): Promise<PortBinding>;
  /** Removes the port's tap from its node (idempotent). */
  unbindPort(scope: TenantScope, portId: string): Promise<void>;
  /** Unbinds if needed, releases the address and deletes the port. */
  deletePort(scope: TenantScope, portId: string): Promise<void>;
  /** Pings the port's address from the subnet's gateway side, through the dataplane. */
  probe(scope: TenantScope, portId: string, timeoutMs: number): Promise<ProbeResult>;
}
