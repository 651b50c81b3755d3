// prismnet's settings in the node config (`settings.prismnet` in node.json), validated at start.
// Everything has a default: with no settings a node runs the controller and a linuxbridge
// dataplane with the `pn` prefix.
import { Type } from '@sinclair/typebox';
import { settingsParser } from '../../runtime/node/component-settings.ts';
import { UltraError } from '../../runtime/errors.ts';
import { parseCidr, type Cidr } from '../../hostdrivers/network/ipv4.ts';
import type { NetworkDriverConfig } from '../../hostdrivers/network/select.ts';

export const PrismnetSettingsSchema = Type.Object(
  {
    /** The host driver: linuxbridge (default), ovs, or fake (in memory: simulator and tests only). */
    driver: Type.Optional(Type.Union([Type.Literal('linuxbridge'), Type.Literal('ovs'), Type.Literal('fake')])),
    /** Prefix of every host object prismnet creates (1–4 characters). */
    prefix: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9]{0,3}$' })),
    /** ovs: an OVS run directory to use instead of prismnet's own under the data dir. */
    ovsRundir: Type.Optional(Type.String({ minLength: 1, maxLength: 80 })),
    /** Where router uplinks get their /30 links (host-local; default 169.254.128.0/18). */
    transitCidr: Type.Optional(Type.String({ maxLength: 18 })),
    /** Full reconcile period of the dataplane in ms (default 15000). */
    resyncMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000 })),
    /** Run a dataplane on this node (default true); false = controller only. */
    dataplane: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export interface PrismnetConfig {
  readonly driver: NetworkDriverConfig;
  readonly transitPool: Cidr;
  readonly resyncMs: number;
  readonly dataplane: boolean;
}

export const DEFAULT_TRANSIT_CIDR = '169.254.128.0/18';
const checkSettings = settingsParser('prismnet', PrismnetSettingsSchema);

export function parsePrismnetSettings(value: unknown): PrismnetConfig {
  const s = checkSettings(value);
  const transitPool = parseCidr(s.transitCidr ?? DEFAULT_TRANSIT_CIDR, 'settings.prismnet.transitCidr');
  if (transitPool.prefixLength > 29) throw new UltraError('InvalidArgument', 'settings.prismnet.transitCidr must be /29 or larger (it is cut into /30 router links)');
  return {
    driver: { driver: s.driver ?? 'linuxbridge', ...(s.prefix === undefined ? {} : { prefix: s.prefix }), ...(s.ovsRundir === undefined ? {} : { ovsRundir: s.ovsRundir }) },
    transitPool,
    resyncMs: s.resyncMs ?? 15_000,
    dataplane: s.dataplane ?? true,
  };
}
