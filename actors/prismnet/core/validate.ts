// Input validation for every prismnet request (pure): each function takes what a caller sent
// (JSON from the API, a message from another component), refuses anything malformed with an
// InvalidArgument that says what is wrong and what would be right, and returns the normalized
// spec. Nothing is written before a request has passed through here.
import { UltraError } from '../../../runtime/errors.ts';
import { cidrContainsAddress, broadcastOf, formatCidr, formatIpv4, parseCidr, parseIpv4 } from '../../../hostdrivers/network/ipv4.ts';

export const VPC_PREFIX_RANGE = [8, 28] as const;
export const SUBNET_PREFIX_RANGE = [16, 29] as const;
export const DEFAULT_MTU = 1500;
const NAME = /^$|^[A-Za-z0-9][A-Za-z0-9 _.-]{0,62}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const ID = /^[a-z]+-[0-9a-f]{12}$/;
const NETNS = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
const OWNER = /^$|^[a-z][a-z0-9-]{0,31}(:[a-z0-9-]{1,31})?$/;

type Fields = Record<string, unknown>;

function object(value: unknown, what: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UltraError('InvalidArgument', `${what} must be a JSON object`);
  return value as Fields;
}

/** Refuses fields the request type does not have: a typo must not be silently ignored. */
function only(fields: Fields, allowed: readonly string[], what: string): void {
  const unknown = Object.keys(fields).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw new UltraError('InvalidArgument', `${what}: unknown field(s) ${unknown.join(', ')}; allowed: ${allowed.join(', ')}`);
}

function optionalString(fields: Fields, key: string, what: string): string | undefined {
  const v = fields[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new UltraError('InvalidArgument', `${what}.${key} must be a string`);
  return v;
}

function optionalBoolean(fields: Fields, key: string, what: string): boolean | undefined {
  const v = fields[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new UltraError('InvalidArgument', `${what}.${key} must be true or false`);
  return v;
}

export function checkName(value: string | undefined, what: string): string {
  const name = value ?? '';
  if (!NAME.test(name)) throw new UltraError('InvalidArgument', `${what} name ${JSON.stringify(name)} must be up to 63 letters, digits, spaces, '_', '.' or '-', starting with a letter or digit`);
  return name;
}

export function checkId(value: unknown, what: string): string {
  if (typeof value !== 'string' || !ID.test(value)) throw new UltraError('InvalidArgument', `${what} ${JSON.stringify(value)} is not a prismnet id (like vpc-0123456789ab)`);
  return value;
}

export function checkMac(value: unknown): string {
  const mac = typeof value === 'string' ? value.toLowerCase() : '';
  if (!MAC.test(mac)) throw new UltraError('InvalidArgument', `MAC ${JSON.stringify(value)} must be six hex octets separated by colons (e.g. 02:1a:2b:3c:4d:5e)`);
  if (parseInt(mac.slice(0, 2), 16) & 1) throw new UltraError('InvalidArgument', `MAC ${mac} is a multicast address; a port needs a unicast MAC (first octet even, e.g. 02:…)`);
  if (mac === '00:00:00:00:00:00') throw new UltraError('InvalidArgument', 'MAC 00:00:00:00:00:00 is not a usable address');
  return mac;
}

/** A random locally administered unicast MAC (02:xx:… style) from 5 random bytes. */
export function generateMac(random: Uint8Array): string {
  const bytes = [0x02, ...Array.from(random.slice(0, 5))];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export interface VpcSpec {
  readonly name: string;
  readonly cidr: string;
}

export function parseVpcSpec(input: unknown): VpcSpec {
  const f = object(input, 'VPC');
  only(f, ['name', 'cidr'], 'VPC');
  const cidr = parseCidr(f.cidr, 'VPC cidr');
  const [min, max] = VPC_PREFIX_RANGE;
  if (cidr.prefixLength < min || cidr.prefixLength > max) throw new UltraError('InvalidArgument', `VPC cidr ${formatCidr(cidr)}: the prefix length must be /${min}–/${max}`);
  return { name: checkName(optionalString(f, 'name', 'VPC'), 'VPC'), cidr: formatCidr(cidr) };
}

export interface SubnetSpec {
  readonly vpcId: string;
  readonly name: string;
  readonly cidr: string;
  readonly gateway: string;
  readonly dhcp: boolean;
  readonly dnsServers: readonly string[];
  readonly mtu: number;
}

export function parseSubnetSpec(input: unknown): SubnetSpec {
  const f = object(input, 'subnet');
  only(f, ['vpcId', 'name', 'cidr', 'gateway', 'dhcp', 'dnsServers', 'mtu'], 'subnet');
  const cidr = parseCidr(f.cidr, 'subnet cidr');
  const [min, max] = SUBNET_PREFIX_RANGE;
  if (cidr.prefixLength < min || cidr.prefixLength > max) throw new UltraError('InvalidArgument', `subnet cidr ${formatCidr(cidr)}: the prefix length must be /${min}–/${max} (room for the network, gateway, broadcast and ports)`);
  const gatewayText = optionalString(f, 'gateway', 'subnet');
  const gateway = gatewayText === undefined ? cidr.network + 1 : parseIpv4(gatewayText, 'subnet gateway');
  if (!cidrContainsAddress(cidr, gateway) || gateway === cidr.network || gateway === broadcastOf(cidr)) {
    throw new UltraError('InvalidArgument', `subnet gateway ${formatIpv4(gateway)} must be a host address inside ${formatCidr(cidr)} (not the network or broadcast address)`);
  }
  return {
    vpcId: checkId(f.vpcId, 'subnet vpcId'),
    name: checkName(optionalString(f, 'name', 'subnet'), 'subnet'),
    cidr: formatCidr(cidr),
    gateway: formatIpv4(gateway),
    dhcp: optionalBoolean(f, 'dhcp', 'subnet') ?? true,
    dnsServers: parseDnsServers(f.dnsServers),
    mtu: parseMtu(f.mtu),
  };
}

function parseDnsServers(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > 4) throw new UltraError('InvalidArgument', 'subnet dnsServers must be a list of up to 4 IPv4 addresses');
  return value.map((v) => formatIpv4(parseIpv4(v, 'DNS server')));
}

function parseMtu(value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_MTU;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 576 || value > 9000) throw new UltraError('InvalidArgument', `subnet mtu ${JSON.stringify(value)} must be a whole number from 576 to 9000`);
  return value;
}

export interface SubnetUpdate {
  readonly name?: string;
  readonly dhcp?: boolean;
  readonly dnsServers?: string[];
}

export function parseSubnetUpdate(input: unknown): SubnetUpdate {
  const f = object(input, 'subnet update');
  only(f, ['name', 'dhcp', 'dnsServers'], 'subnet update');
  const name = optionalString(f, 'name', 'subnet');
  const dhcp = optionalBoolean(f, 'dhcp', 'subnet');
  return { ...(name === undefined ? {} : { name: checkName(name, 'subnet') }), ...(dhcp === undefined ? {} : { dhcp }), ...(f.dnsServers === undefined ? {} : { dnsServers: parseDnsServers(f.dnsServers) }) };
}

export interface PortCreateSpec {
  readonly subnetId: string;
  readonly name: string;
  readonly deviceOwner: string;
  readonly deviceId: string;
  readonly securityGroups?: readonly string[];
  readonly fixedIp?: string;
  readonly mac?: string;
  readonly adminUp: boolean;
}

export function parsePortSpec(input: unknown): PortCreateSpec {
  const f = object(input, 'port');
  only(f, ['subnetId', 'name', 'deviceOwner', 'deviceId', 'securityGroups', 'fixedIp', 'mac', 'adminUp'], 'port');
  const owner = optionalString(f, 'deviceOwner', 'port') ?? '';
  if (!OWNER.test(owner)) throw new UltraError('InvalidArgument', `port deviceOwner ${JSON.stringify(owner)} must look like service:kind (e.g. compute:vm)`);
  const deviceId = optionalString(f, 'deviceId', 'port') ?? '';
  if (deviceId.length > 128) throw new UltraError('InvalidArgument', 'port deviceId is longer than 128 characters');
  const fixedIp = optionalString(f, 'fixedIp', 'port');
  const mac = f.mac === undefined || f.mac === null ? undefined : checkMac(f.mac);
  return {
    subnetId: checkId(f.subnetId, 'port subnetId'),
    name: checkName(optionalString(f, 'name', 'port'), 'port'),
    deviceOwner: owner,
    deviceId,
    ...(f.securityGroups === undefined || f.securityGroups === null ? {} : { securityGroups: parseGroupList(f.securityGroups) }),
    ...(fixedIp === undefined ? {} : { fixedIp: formatIpv4(parseIpv4(fixedIp, 'port fixedIp')) }),
    ...(mac === undefined ? {} : { mac }),
    adminUp: optionalBoolean(f, 'adminUp', 'port') ?? true,
  };
}

function parseGroupList(value: unknown): string[] {
  if (!Array.isArray(value) || value.length > 16) throw new UltraError('InvalidArgument', 'securityGroups must be a list of up to 16 security group ids');
  const ids = value.map((v) => checkId(v, 'security group'));
  return [...new Set(ids)];
}

export interface PortUpdate {
  readonly name?: string;
  readonly securityGroups?: string[];
  readonly adminUp?: boolean;
}

export function parsePortUpdate(input: unknown): PortUpdate {
  const f = object(input, 'port update');
  only(f, ['name', 'securityGroups', 'adminUp'], 'port update');
  const name = optionalString(f, 'name', 'port');
  const adminUp = optionalBoolean(f, 'adminUp', 'port');
  return { ...(name === undefined ? {} : { name: checkName(name, 'port') }), ...(adminUp === undefined ? {} : { adminUp }), ...(f.securityGroups === undefined ? {} : { securityGroups: parseGroupList(f.securityGroups) }) };
}

export interface BindOptions {
  /** Attach as a veth whose far end goes into this namespace (containers, test "VMs"); a tap otherwise. */
  readonly workloadNetns?: string;
  /** The interface name of the far end (default eth0). */
  readonly ifname?: string;
}

export function parseBindOptions(input: unknown): BindOptions {
  if (input === undefined || input === null) return {};
  const f = object(input, 'bind options');
  only(f, ['workloadNetns', 'ifname'], 'bind options');
  const netns = optionalString(f, 'workloadNetns', 'bind options');
  const ifname = optionalString(f, 'ifname', 'bind options');
  if (netns !== undefined && !NETNS.test(netns)) throw new UltraError('InvalidArgument', `workloadNetns ${JSON.stringify(netns)} is not a network namespace name`);
  if (ifname !== undefined && !IFNAME.test(ifname)) throw new UltraError('InvalidArgument', `ifname ${JSON.stringify(ifname)} must be 1–15 characters of letters, digits, '_', '.' or '-'`);
  if (ifname !== undefined && netns === undefined) throw new UltraError('InvalidArgument', 'ifname only applies with workloadNetns (a veth attachment)');
  return { ...(netns === undefined ? {} : { workloadNetns: netns }), ...(ifname === undefined ? {} : { ifname }) };
}

export interface SecurityGroupSpec {
  readonly vpcId: string;
  readonly name: string;
  readonly description: string;
}

export function parseSecurityGroupSpec(input: unknown): SecurityGroupSpec {
  const f = object(input, 'security group');
  only(f, ['vpcId', 'name', 'description'], 'security group');
  return { vpcId: checkId(f.vpcId, 'security group vpcId'), name: checkName(optionalString(f, 'name', 'security group'), 'security group'), description: parseDescription(f.description) };
}

function parseDescription(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string' || value.length > 255) throw new UltraError('InvalidArgument', 'description must be a string of at most 255 characters');
  return value;
}

export interface RuleSpec {
  readonly direction: 'ingress' | 'egress';
  readonly ethertype: 'IPv4' | 'IPv6';
  readonly protocol: 'any' | 'tcp' | 'udp' | 'icmp';
  readonly portMin?: number;
  readonly portMax?: number;
  readonly remoteCidr?: string;
  readonly remoteGroupId?: string;
  readonly description: string;
}

export function parseRuleSpec(input: unknown): RuleSpec {
  const f = object(input, 'rule');
  only(f, ['direction', 'ethertype', 'protocol', 'portMin', 'portMax', 'remoteCidr', 'remoteGroupId', 'description'], 'rule');
  const direction = f.direction;
  if (direction !== 'ingress' && direction !== 'egress') throw new UltraError('InvalidArgument', `rule direction ${JSON.stringify(direction)} must be "ingress" or "egress"`);
  const ethertype = f.ethertype ?? 'IPv4';
  if (ethertype !== 'IPv4' && ethertype !== 'IPv6') throw new UltraError('InvalidArgument', `rule ethertype ${JSON.stringify(ethertype)} must be "IPv4" or "IPv6"`);
  const protocol = f.protocol ?? 'any';
  if (protocol !== 'any' && protocol !== 'tcp' && protocol !== 'udp' && protocol !== 'icmp') throw new UltraError('InvalidArgument', `rule protocol ${JSON.stringify(protocol)} must be any, tcp, udp or icmp`);
  const hasPorts = f.portMin !== undefined || f.portMax !== undefined;
  let ports: { portMin?: number; portMax?: number } = {};
  if (hasPorts) {
    if (protocol !== 'tcp' && protocol !== 'udp') throw new UltraError('InvalidArgument', `a port range needs protocol tcp or udp, not ${protocol}`);
    const min = f.portMin ?? f.portMax;
    const max = f.portMax ?? f.portMin;
    const valid = (p: unknown): p is number => typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535;
    if (!valid(min) || !valid(max)) throw new UltraError('InvalidArgument', `rule ports must be whole numbers from 1 to 65535 (got portMin ${JSON.stringify(f.portMin)}, portMax ${JSON.stringify(f.portMax)})`);
    if (min > max) throw new UltraError('InvalidArgument', `rule port range ${min}-${max} is empty: portMin must not exceed portMax`);
    ports = { portMin: min, portMax: max };
  }
  if (f.remoteCidr !== undefined && f.remoteGroupId !== undefined) throw new UltraError('InvalidArgument', 'a rule names its peer by remoteCidr or by remoteGroupId, not both');
  let remote: { remoteCidr?: string; remoteGroupId?: string } = {};
  if (f.remoteCidr !== undefined) {
    if (ethertype === 'IPv6') remote = { remoteCidr: parseIpv6Cidr(f.remoteCidr) };
    else remote = { remoteCidr: formatCidr(parseCidr(f.remoteCidr, 'rule remoteCidr')) };
  } else if (f.remoteGroupId !== undefined) {
    remote = { remoteGroupId: checkId(f.remoteGroupId, 'rule remoteGroupId') };
  }
  return { direction, ethertype, protocol, ...ports, ...remote, description: parseDescription(f.description) };
}

/** IPv6 rules are stored (ports are IPv4-only today, so they match nothing yet); the CIDR must still be well formed. */
function parseIpv6Cidr(value: unknown): string {
  const text = typeof value === 'string' ? value.toLowerCase() : '';
  const [address, length] = text.split('/');
  const n = Number(length);
  if (address === undefined || !/^[0-9a-f:]{2,39}$/.test(address) || !address.includes(':') || (address.match(/::/g)?.length ?? 0) > 1 || !Number.isInteger(n) || n < 0 || n > 128) {
    throw new UltraError('InvalidArgument', `rule remoteCidr ${JSON.stringify(value)} is not an IPv6 CIDR (like 2001:db8::/32)`);
  }
  return `${address}/${n}`;
}

export interface RouterSpec {
  readonly vpcId: string;
  readonly name: string;
  readonly snat: boolean;
  readonly subnetIds: readonly string[];
}

export function parseRouterSpec(input: unknown): RouterSpec {
  const f = object(input, 'router');
  only(f, ['vpcId', 'name', 'snat', 'subnetIds'], 'router');
  return { vpcId: checkId(f.vpcId, 'router vpcId'), name: checkName(optionalString(f, 'name', 'router'), 'router'), snat: optionalBoolean(f, 'snat', 'router') ?? true, subnetIds: parseIdList(f.subnetIds, 'router subnetIds') };
}

export interface RouterUpdate {
  readonly name?: string;
  readonly snat?: boolean;
  readonly subnetIds?: string[];
}

export function parseRouterUpdate(input: unknown): RouterUpdate {
  const f = object(input, 'router update');
  only(f, ['name', 'snat', 'subnetIds'], 'router update');
  const name = optionalString(f, 'name', 'router');
  const snat = optionalBoolean(f, 'snat', 'router');
  return { ...(name === undefined ? {} : { name: checkName(name, 'router') }), ...(snat === undefined ? {} : { snat }), ...(f.subnetIds === undefined ? {} : { subnetIds: parseIdList(f.subnetIds, 'router subnetIds') }) };
}

function parseIdList(value: unknown, what: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > 256) throw new UltraError('InvalidArgument', `${what} must be a list of ids`);
  return [...new Set(value.map((v) => checkId(v, what)))];
}

export interface ServiceIpSpec {
  readonly subnetId: string;
  readonly ip?: string;
  readonly claimedBy: string;
}

export function parseServiceIpSpec(input: unknown): ServiceIpSpec {
  const f = object(input, 'service IP');
  only(f, ['subnetId', 'ip', 'claimedBy'], 'service IP');
  const ip = optionalString(f, 'ip', 'service IP');
  return { subnetId: checkId(f.subnetId, 'service IP subnetId'), ...(ip === undefined ? {} : { ip: formatIpv4(parseIpv4(ip, 'service IP')) }), claimedBy: parseClaim(f.claimedBy) };
}

export function parseClaim(value: unknown): string {
  if (value === undefined || value === null || value === '') return '';
  if (typeof value !== 'string' || !/^[a-z][a-z0-9-]{0,31}:[A-Za-z0-9._-]{1,95}$/.test(value)) throw new UltraError('InvalidArgument', `claimedBy ${JSON.stringify(value)} must look like component:id (e.g. fiberlb:lb-1)`);
  return value;
}
