// IPv4 addresses and CIDR blocks as unsigned 32-bit numbers (pure). Parsing is strict — four
// decimal octets without leading zeros, a prefix length 0–32, no host bits set in a CIDR — so
// the same block always has one spelling and `10.0.0.5/24` is refused instead of guessed at.
import { UltraError } from '../../runtime/errors.ts';

export interface Cidr {
  /** The network address (host bits zero). */
  readonly network: number;
  readonly prefixLength: number;
}

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

export function tryParseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

/** Parses a dotted quad; InvalidArgument naming `what` otherwise. */
export function parseIpv4(text: unknown, what: string): number {
  const value = typeof text === 'string' ? tryParseIpv4(text) : undefined;
  if (value === undefined) throw new UltraError('InvalidArgument', `${what} ${JSON.stringify(text)} is not an IPv4 address (a.b.c.d)`);
  return value;
}

export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

export function maskOf(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** Parses `a.b.c.d/len`; refuses host bits, suggesting the network it probably meant. */
export function parseCidr(text: unknown, what: string): Cidr {
  if (typeof text !== 'string') throw new UltraError('InvalidArgument', `${what} must be a CIDR string like 10.0.0.0/16`);
  const slash = text.indexOf('/');
  const address = slash < 0 ? undefined : tryParseIpv4(text.slice(0, slash));
  const lengthText = slash < 0 ? '' : text.slice(slash + 1);
  const prefixLength = /^(0|[1-9][0-9]?)$/.test(lengthText) ? Number(lengthText) : NaN;
  if (address === undefined || !(prefixLength >= 0 && prefixLength <= 32)) {
    throw new UltraError('InvalidArgument', `${what} ${JSON.stringify(text)} is not an IPv4 CIDR (a.b.c.d/len, len 0–32)`);
  }
  const network = (address & maskOf(prefixLength)) >>> 0;
  if (network !== address) {
    throw new UltraError('InvalidArgument', `${what} ${text} has host bits set; did you mean ${formatIpv4(network)}/${prefixLength}?`);
  }
  return { network, prefixLength };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefixLength}`;
}

export function cidrSize(cidr: Cidr): number {
  return 2 ** (32 - cidr.prefixLength);
}

export function broadcastOf(cidr: Cidr): number {
  return cidr.network + cidrSize(cidr) - 1;
}

export function cidrContainsAddress(cidr: Cidr, address: number): boolean {
  return address >= cidr.network && address <= broadcastOf(cidr);
}

/** True when `inner` lies entirely inside `outer`. */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return inner.prefixLength >= outer.prefixLength && cidrContainsAddress(outer, inner.network);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

/** Orders dotted quads numerically (for stable, readable output). */
export function compareIpv4(a: string, b: string): number {
  return (tryParseIpv4(a) ?? 0) - (tryParseIpv4(b) ?? 0);
}

/** The dotted-quad netmask of a prefix length (DHCP wants it). */
export function netmaskOf(prefixLength: number): string {
  return formatIpv4(maskOf(prefixLength));
}
