// The host scenarios on the linuxbridge driver: Linux bridges, veths, dnsmasq and nftables in a
// namespace per VPC (root; see host-suite.ts).
import { hostSuite } from './host-suite.ts';
import { sh, uniquePrefix } from './host-harness.ts';
import { HostNames } from '../../hostdrivers/network/names.ts';

const prefix = uniquePrefix('l');

hostSuite({
  kind: 'linuxbridge',
  prefix,
  tools: ['ip', 'nft', 'dnsmasq', 'ping', 'busybox', 'sysctl'],
  deleteBridgeByHand: async (_rig, { vpcId, subnetId }) => {
    const names = new HostNames(prefix);
    await sh('ip', ['-n', names.vpcNetns(vpcId), 'link', 'delete', names.subnetBridge(subnetId)]);
  },
});
