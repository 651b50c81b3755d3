// Builds the configured network driver. The choice is configuration only (never sniffed from the
// host), so a node with `driver: "fake"` never touches the host and one with `linuxbridge` fails
// loudly when a tool is missing instead of quietly pretending.
import type { Env } from '../../runtime/env/env.ts';
import type { Logger } from '../../runtime/log/logger.ts';
import type { DriverKind, NetworkDriver } from './driver.ts';
import { FakeNetworkDriver } from './fake/fake-driver.ts';
import { LinuxBridgeDriver } from './linuxbridge/linuxbridge-driver.ts';
import { OvsDriver } from './ovs/ovs-driver.ts';

export interface NetworkDriverConfig {
  readonly driver: DriverKind;
  /** Name prefix of every host object (default `pn`). */
  readonly prefix?: string;
  /** ovs only: the OVS run directory to use (default: prismnet's own under the state dir). */
  readonly ovsRundir?: string;
}

export interface DriverDeps {
  /** Where the driver keeps its files (under the node's data dir). */
  readonly stateDir: string;
  readonly env: Env;
  readonly log: Logger;
}

export const DEFAULT_PREFIX = 'pn';

export function createNetworkDriver(config: NetworkDriverConfig, deps: DriverDeps): NetworkDriver {
  const prefix = config.prefix ?? DEFAULT_PREFIX;
  switch (config.driver) {
    case 'linuxbridge':
      return new LinuxBridgeDriver({ prefix, stateDir: deps.stateDir, env: deps.env, log: deps.log });
    case 'ovs':
      return new OvsDriver({ prefix, stateDir: deps.stateDir, env: deps.env, log: deps.log, ...(config.ovsRundir === undefined ? {} : { rundir: config.ovsRundir }) });
    case 'fake':
      return new FakeNetworkDriver({ prefix, env: deps.env });
  }
}
