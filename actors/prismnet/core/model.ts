// prismnet's records as stored in flaredb (namespace `prismnet`, one MetadataTable each) and
// their schemas. Tenant records are keyed `<org>/<project>/<id>`, so listing a project's
// resources is one prefix scan. Ids are generated (`vpc-` + 12 hex digits …), never chosen by
// callers, so they are safe in keys, host device names and nft comments.
import { Type, type Static } from '@sinclair/typebox';

const Id = Type.String({ pattern: '^[a-z]+-[0-9a-f]{12}$' });
const Tenant = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' });
const Name = Type.String({ maxLength: 63 });
const Ipv4 = Type.String({ pattern: '^[0-9.]{7,15}$' });
const CidrText = Type.String({ pattern: '^[0-9.]{7,15}/[0-9]{1,2}$' });
const Mac = Type.String({ pattern: '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$' });

const scoped = {
  id: Id,
  org: Tenant,
  project: Tenant,
  createdAt: Type.Number(),
};

export const VpcSchema = Type.Object(
  {
    ...scoped,
    name: Name,
    cidr: CidrText,
    defaultSecurityGroupId: Id,
    /**
     * The CIDRs its subnets claim, kept on the VPC record so that creating a subnet checks overlap
     * and claims its range in one compare-and-swap (two concurrent subnets cannot both win).
     */
    subnetClaims: Type.Array(Type.Object({ subnetId: Id, cidr: CidrText }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

export const SubnetSchema = Type.Object(
  {
    ...scoped,
    vpcId: Id,
    name: Name,
    cidr: CidrText,
    gateway: Ipv4,
    dhcp: Type.Boolean(),
    dnsServers: Type.Array(Ipv4, { maxItems: 4 }),
    mtu: Type.Integer({ minimum: 576, maximum: 9000 }),
    /** Set while a delete checks that no address is in use; a port created meanwhile backs off. */
    deleting: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const PORT_STATUSES = ['down', 'building', 'active', 'error'] as const;

export const PortBindingSchema = Type.Object(
  {
    node: Type.String({ minLength: 1, maxLength: 128 }),
    /** `tap` (QEMU opens it) or `veth` (the far end goes into the workload's namespace). */
    kind: Type.Union([Type.Literal('tap'), Type.Literal('veth')]),
    workloadNetns: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' })),
    ifname: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$' })),
  },
  { additionalProperties: false },
);

export const PortSchema = Type.Object(
  {
    ...scoped,
    vpcId: Id,
    subnetId: Id,
    name: Name,
    mac: Mac,
    fixedIps: Type.Array(Ipv4, { minItems: 1, maxItems: 1 }),
    deviceOwner: Type.String({ maxLength: 64 }),
    deviceId: Type.String({ maxLength: 128 }),
    securityGroups: Type.Array(Id, { maxItems: 16 }),
    adminUp: Type.Boolean(),
    status: Type.Union(PORT_STATUSES.map((s) => Type.Literal(s))),
    statusMessage: Type.Optional(Type.String({ maxLength: 1024 })),
    binding: Type.Optional(PortBindingSchema),
  },
  { additionalProperties: false },
);

export const SecurityGroupSchema = Type.Object(
  {
    ...scoped,
    vpcId: Id,
    name: Name,
    description: Type.String({ maxLength: 255 }),
    isDefault: Type.Boolean(),
  },
  { additionalProperties: false },
);

export const RuleSchema = Type.Object(
  {
    ...scoped,
    securityGroupId: Id,
    direction: Type.Union([Type.Literal('ingress'), Type.Literal('egress')]),
    ethertype: Type.Union([Type.Literal('IPv4'), Type.Literal('IPv6')]),
    protocol: Type.Union([Type.Literal('any'), Type.Literal('tcp'), Type.Literal('udp'), Type.Literal('icmp')]),
    portMin: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    portMax: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    remoteCidr: Type.Optional(Type.String({ maxLength: 43 })),
    remoteGroupId: Type.Optional(Id),
    description: Type.String({ maxLength: 255 }),
  },
  { additionalProperties: false },
);

export const RouterSchema = Type.Object(
  {
    ...scoped,
    vpcId: Id,
    name: Name,
    /** Masquerade the attached subnets' egress to the router's uplink address. */
    snat: Type.Boolean(),
    subnetIds: Type.Array(Id, { maxItems: 256 }),
    /** The /30 slot of the transit pool the uplink uses (same on every node: the link is host-local). */
    transitSlot: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

export const ServiceIpSchema = Type.Object(
  {
    ...scoped,
    vpcId: Id,
    subnetId: Id,
    ip: Ipv4,
    /** Who uses the address (e.g. `fiberlb:lb-…`, `k8shost:svc-…`); empty when unclaimed. */
    claimedBy: Type.String({ maxLength: 128 }),
  },
  { additionalProperties: false },
);

/** One allocated address of a subnet; the key `<org>/<project>/<subnetId>/<hex ip>` is the lock. */
export const AllocationSchema = Type.Object(
  {
    subnetId: Id,
    ip: Ipv4,
    /** `port:<id>` or `service-ip:<id>`. */
    owner: Type.String({ maxLength: 64 }),
  },
  { additionalProperties: false },
);

/** A MAC in use in a VPC; the key `<org>/<project>/<vpcId>/<mac>` keeps MACs unique per VPC. */
export const MacClaimSchema = Type.Object({ portId: Id }, { additionalProperties: false });

/** `bindings/<node>/<org>/<project>/<portId>`: which ports a node's dataplane realizes. */
export const BindingIndexSchema = Type.Object({ org: Tenant, project: Tenant, portId: Id }, { additionalProperties: false });

/** `transit/<slot>`: a router's uplink /30. */
export const TransitClaimSchema = Type.Object({ router: Type.String({ maxLength: 200 }) }, { additionalProperties: false });

export type Vpc = Static<typeof VpcSchema>;
export type Subnet = Static<typeof SubnetSchema>;
export type Port = Static<typeof PortSchema>;
export type PortBindingRecord = Static<typeof PortBindingSchema>;
export type SecurityGroup = Static<typeof SecurityGroupSchema>;
export type Rule = Static<typeof RuleSchema>;
export type Router = Static<typeof RouterSchema>;
export type ServiceIp = Static<typeof ServiceIpSchema>;
export type Allocation = Static<typeof AllocationSchema>;
export type PortStatusValue = (typeof PORT_STATUSES)[number];

/** The id prefixes by resource kind. */
export const ID_PREFIX = {
  vpc: 'vpc',
  subnet: 'subnet',
  port: 'port',
  securityGroup: 'sg',
  rule: 'rule',
  router: 'router',
  serviceIp: 'sip',
} as const;

export function tenantKey(org: string, project: string, id: string): string {
  return `${org}/${project}/${id}`;
}
