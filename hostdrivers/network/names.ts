// Host object names derived from prismnet ids. Linux interface names are at most 15 bytes, so a
// name is `<prefix><kind><key>`: a short prefix that marks everything the driver owns (the
// driver deletes stale objects only under its prefix, and parallel test runs use different
// prefixes), one kind letter, and a 10-character key hashed from the resource id (50 bits: a
// clash between two ids on one host is detected by the intent check, not assumed away).
import { createHash } from 'node:crypto';
import { UltraError } from '../../runtime/errors.ts';

export const KEY_LENGTH = 10;
const PREFIX_PATTERN = /^[a-z][a-z0-9]{0,3}$/;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export function checkPrefix(prefix: string): void {
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new UltraError('InvalidArgument', `network name prefix '${prefix}' must be 1–4 characters of a-z0-9 starting with a letter (interface names are limited to 15 bytes)`);
  }
}

/** The 10-character key of an id: lowercase base32 of its SHA-256. */
export function keyOf(id: string): string {
  const digest = createHash('sha256').update(id).digest();
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < KEY_LENGTH) {
      out += BASE32[(value >>> (bits - 5)) & 31]!;
      bits -= 5;
    }
    if (out.length === KEY_LENGTH) break;
    value &= (1 << bits) - 1;
  }
  return out;
}

/** Every name a driver uses for one resource, by kind letter. */
export class HostNames {
  readonly prefix: string;

  constructor(prefix: string) {
    checkPrefix(prefix);
    this.prefix = prefix;
  }

  /** The namespace that holds a VPC's bridges/gateways, router, DHCP servers and filters. */
  vpcNetns(vpcId: string): string {
    return `${this.prefix}v${keyOf(vpcId)}`;
  }

  /** A subnet's bridge (linuxbridge) or gateway interface (ovs), inside the VPC namespace. */
  subnetBridge(subnetId: string): string {
    return `${this.prefix}b${keyOf(subnetId)}`;
  }

  /** ovs: the subnet's OVS bridge (root namespace). */
  ovsBridge(subnetId: string): string {
    return `${this.prefix}o${keyOf(subnetId)}`;
  }

  /** ovs: the root-namespace end of the gateway veth, plugged into the OVS bridge. */
  gatewayPort(subnetId: string): string {
    return `${this.prefix}g${keyOf(subnetId)}`;
  }

  /** A port's tap, or the bridge-side end of its veth. */
  portDevice(portId: string): string {
    return `${this.prefix}t${keyOf(portId)}`;
  }

  /** The VPC namespace end of the router uplink. */
  uplinkVpcSide(vpcId: string): string {
    return `${this.prefix}u${keyOf(vpcId)}`;
  }

  /** The host (root namespace) end of the router uplink. */
  uplinkHostSide(vpcId: string): string {
    return `${this.prefix}h${keyOf(vpcId)}`;
  }

  /** True for a name this prefix owns of the given kind letter(s). */
  owns(name: string, kinds: string): boolean {
    return name.length === this.prefix.length + 1 + KEY_LENGTH && name.startsWith(this.prefix) && kinds.includes(name[this.prefix.length]!);
  }
}
