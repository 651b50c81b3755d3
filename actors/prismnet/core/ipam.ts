// The IPAM core (pure): which addresses of a subnet may be handed out, in which order, and how an
// allocation is keyed. The store side (ipam-store.ts) turns "pick the next free candidate" into
// "create its key with compare-and-swap at version 0", so two allocators racing for one address
// cannot both win — the loser moves on to the next candidate.
import { UltraError } from '../../../runtime/errors.ts';
import { broadcastOf, cidrContainsAddress, cidrSize, formatCidr, formatIpv4, parseCidr, parseIpv4, type Cidr } from '../../../hostdrivers/network/ipv4.ts';

export interface SubnetAddressing {
  readonly cidr: Cidr;
  readonly gateway: number;
}

export function addressing(subnet: { readonly cidr: string; readonly gateway: string }): SubnetAddressing {
  return { cidr: parseCidr(subnet.cidr, 'subnet cidr'), gateway: parseIpv4(subnet.gateway, 'subnet gateway') };
}

/** Why `ip` cannot be assigned to a port in the subnet, or undefined when it can. */
export function unassignableReason(s: SubnetAddressing, ip: number): string | undefined {
  if (!cidrContainsAddress(s.cidr, ip)) return `it is outside the subnet ${formatCidr(s.cidr)}`;
  if (ip === s.cidr.network) return 'it is the network address';
  if (ip === broadcastOf(s.cidr)) return 'it is the broadcast address';
  if (ip === s.gateway) return 'it is the gateway address';
  return undefined;
}

/** Assignable addresses: the block minus network, broadcast and gateway. */
export function usableCount(s: SubnetAddressing): number {
  return cidrSize(s.cidr) - 3;
}

/** Free, assignable addresses in ascending order (lowest first gives short, predictable addresses). */
export function* freeCandidates(s: SubnetAddressing, taken: ReadonlySet<number>): Generator<number> {
  const last = broadcastOf(s.cidr);
  for (let ip = s.cidr.network + 1; ip < last; ip++) {
    if (ip !== s.gateway && !taken.has(ip)) yield ip;
  }
}

/** The key suffix of an allocation: 8 hex digits, so keys sort in address order. */
export function allocationSuffix(ip: number): string {
  return ip.toString(16).padStart(8, '0');
}

export function parseAllocationSuffix(suffix: string): number {
  return parseInt(suffix, 16);
}

/** Requires `ip` to be assignable; InvalidArgument saying why not. */
export function requireAssignable(s: SubnetAddressing, ip: number): void {
  const reason = unassignableReason(s, ip);
  if (reason !== undefined) throw new UltraError('InvalidArgument', `fixed IP ${formatIpv4(ip)} cannot be assigned: ${reason}`);
}

/** The transit pool is cut into /30 links: slot n is `.4n+1` (host side) and `.4n+2` (VPC side). */
export const TRANSIT_PREFIX_LENGTH = 30;

export function transitSlotCount(pool: Cidr): number {
  return Math.floor(cidrSize(pool) / 4);
}

export function transitAddresses(pool: Cidr, slot: number): { readonly hostAddress: string; readonly vpcAddress: string; readonly prefixLength: number } {
  if (!Number.isInteger(slot) || slot < 0 || slot >= transitSlotCount(pool)) throw new UltraError('Internal', `transit slot ${slot} is outside the pool ${formatCidr(pool)}`);
  const base = pool.network + slot * 4;
  return { hostAddress: formatIpv4(base + 1), vpcAddress: formatIpv4(base + 2), prefixLength: TRANSIT_PREFIX_LENGTH };
}
