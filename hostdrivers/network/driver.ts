// The one interface prismnet's dataplane actor drives, whatever realizes tenant networks on the
// host: `linuxbridge` (bridges, tap/veth, dnsmasq, nftables in a namespace per VPC), `ovs` (Open
// vSwitch bridges with OpenFlow/conntrack security groups, same namespaces for routing and DHCP)
// or `fake` (in memory, for the simulator and unit tests). Which one runs is configuration only
// (settings.prismnet.driver), never guessed from the environment.
import type { ApplyReport, HostIntent } from './intent.ts';

export type DriverKind = 'linuxbridge' | 'ovs' | 'fake';

export interface ProbeTarget {
  readonly vpcId: string;
  readonly subnetId: string;
  readonly ip: string;
}

export interface DriverProbeResult {
  readonly reachable: boolean;
  readonly rttMs?: number;
}

export interface NetworkDriver {
  readonly kind: DriverKind;
  /**
   * Makes the host match `intent` for everything under the driver's name prefix: creates what is
   * missing, repairs what drifted, removes what is no longer wanted. Idempotent; a failure of one
   * port is reported in its realization, not thrown (a throw means the pass as a whole failed).
   */
  apply(intent: HostIntent): Promise<ApplyReport>;
  /** Pings `ip` once from the subnet's gateway side (inside the VPC's namespace). */
  probe(target: ProbeTarget, timeoutMs: number): Promise<DriverProbeResult>;
  /** Removes every host object under the driver's prefix and stops the daemons it started. */
  teardown(): Promise<void>;
  /** Releases in-process resources only; host state stays, so workloads keep their network. */
  close(): Promise<void>;
}
