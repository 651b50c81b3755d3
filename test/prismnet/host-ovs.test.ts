// The host scenarios on the ovs driver: Open vSwitch with the userspace (netdev) datapath and
// OpenFlow/conntrack security groups, daemons started by the driver under its own run directory
// (root; see host-suite.ts).
import { join } from 'node:path';
import { hostSuite } from './host-suite.ts';
import { sh, uniquePrefix } from './host-harness.ts';
import { HostNames } from '../../hostdrivers/network/names.ts';

const prefix = uniquePrefix('o');

hostSuite({
  kind: 'ovs',
  prefix,
  tools: ['ip', 'nft', 'dnsmasq', 'ping', 'busybox', 'sysctl', 'ethtool', 'ovs-vsctl', 'ovs-vswitchd', 'ovsdb-server'],
  deleteBridgeByHand: async (rig, { subnetId }) => {
    const names = new HostNames(prefix);
    await sh('ovs-vsctl', [`--db=unix:${join(rig.stateDir, 'ovs', 'db.sock')}`, 'del-br', names.ovsBridge(subnetId)]);
  },
});
