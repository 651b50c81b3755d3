// What a network host driver is asked to make true on its host: the complete desired state of
// every tenant network piece prismnet wants on this node (level-triggered, like a Kubernetes
// controller's spec). prismnet's dataplane actor builds it from the records in flaredb; a driver
// compares it with what the host has and changes only what differs, so applying the same intent
// twice changes nothing and applying it after a crash or a hand-deleted bridge repairs the host.
// Addresses here are IPv4 dotted quads; CIDRs are canonical (`10.0.0.0/24`).

export interface HostIntent {
  readonly vpcs: readonly VpcIntent[];
}

export interface VpcIntent {
  /** prismnet's VPC id; every host name derived for the VPC comes from it (see names.ts). */
  readonly id: string;
  readonly subnets: readonly SubnetIntent[];
  /** Every security group a port here uses, and every group those groups' rules name as remote. */
  readonly securityGroups: readonly SecurityGroupIntent[];
  /** The VPC's router uplink to the host, when the VPC has a router doing SNAT. */
  readonly uplink?: UplinkIntent;
}

export interface UplinkIntent {
  /** The host (root namespace) end of the transit link. */
  readonly hostAddress: string;
  /** The VPC end of the transit link; egress is masqueraded to it. */
  readonly vpcAddress: string;
  readonly prefixLength: number;
  /** CIDRs of the subnets attached to the router: only they may leave through the uplink. */
  readonly attachedSources: readonly string[];
  /** Masquerade the attached subnets' traffic to the VPC end's address (SNAT). */
  readonly snat: boolean;
}

export interface SubnetIntent {
  readonly id: string;
  readonly cidr: string;
  readonly gateway: string;
  readonly prefixLength: number;
  /** Serve DHCP (static leases only: the ports' fixed IPs). */
  readonly dhcp: boolean;
  /** DNS servers handed out by DHCP; none means the option is not sent. */
  readonly dnsServers: readonly string[];
  readonly mtu: number;
  readonly ports: readonly PortIntent[];
}

/** How a workload attaches: a tap device it opens (QEMU), or a veth whose far end is moved into its namespace. */
export type PortAttachment = { readonly kind: 'tap' } | { readonly kind: 'veth'; readonly netns: string; readonly ifname: string };

export interface PortIntent {
  readonly id: string;
  readonly mac: string;
  readonly ip: string;
  readonly adminUp: boolean;
  readonly attachment: PortAttachment;
  /** Security group ids, in the order they were given (the union of their rules applies). */
  readonly securityGroups: readonly string[];
}

export type Direction = 'ingress' | 'egress';
export type Ethertype = 'IPv4' | 'IPv6';
export type RuleProtocol = 'any' | 'tcp' | 'udp' | 'icmp';

export interface RuleIntent {
  readonly id: string;
  readonly direction: Direction;
  readonly ethertype: Ethertype;
  readonly protocol: RuleProtocol;
  /** Destination port range for tcp/udp; both absent = every port. */
  readonly portMin?: number;
  readonly portMax?: number;
  /** The peer as a CIDR (the source for ingress, the destination for egress). */
  readonly remoteCidr?: string;
  /** The peer as the members of a security group (their fixed IPs). */
  readonly remoteGroupId?: string;
}

export interface SecurityGroupIntent {
  readonly id: string;
  readonly rules: readonly RuleIntent[];
  /** Fixed IPs of every port in the VPC that is a member of the group (for remote-group rules). */
  readonly memberIps: readonly string[];
}

export type PortState = 'down' | 'active' | 'error';

/** What a driver made of one port. */
export interface PortRealization {
  readonly state: PortState;
  /** Why the port is in error (what to do next), when it is. */
  readonly message?: string;
  /** The device the workload uses: the tap to open, or the veth end in the workload's namespace. */
  readonly device: string;
  /** The namespace the tap lives in, when the driver isolates VPCs by namespace. */
  readonly netns?: string;
}

export interface ApplyReport {
  readonly ports: ReadonlyMap<string, PortRealization>;
  /** How many host changes this pass made (0 when the host already matched). */
  readonly changes: number;
}
