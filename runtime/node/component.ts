// What a component (chainfire, flaredb, iam, …) gives the node daemon: a descriptor with its name,
// the components it needs on the same node, and how to start it. Each component folder exports
// one; the daemon starts the configured ones in dependency order and stops them in reverse.
import type { ActorRef, ActorSystem } from '../actors/index.ts';
import type { ReceptionistMsg } from '../cluster/receptionist.ts';
import type { AccessGate } from '../http/access.ts';
import type { ApiTls, ApiTlsFiles } from '../http/api-tls.ts';
import type { Logger } from '../log/logger.ts';
import type { NodeConfig } from './node-config.ts';

export interface ComponentContext {
  readonly system: ActorSystem;
  readonly nodeId: string;
  readonly config: NodeConfig;
  /** Node ids of the control-plane voters: this node plus the peers it was configured with. */
  readonly voters: readonly string[];
  /** The host the node's APIs bind to. */
  readonly host: string;
  /** Every API server of the node serves TLS with these credentials (node.json's `tls`), or none does. */
  readonly tls: ApiTls | undefined;
  /** The cluster's admin credential (break-glass system identity; see runtime/http/access.ts). */
  readonly adminToken: string;
  /** Authenticates and authorizes every API request: every component API server uses it. */
  readonly gate: AccessGate;
  /**
   * The cluster-wide service registry: components register their service actors here and find
   * each other's (flaredb, iam, …) wherever in the cluster they run.
   */
  readonly receptionist: ActorRef<ReceptionistMsg>;
  readonly log: Logger;
  /**
   * The node lost its state and rejoins its cluster (runtime/node/rejoin.ts): replicas created
   * with an empty log must recover before they vote (RaftConfig.recovering).
   */
  readonly rejoining: boolean;
}

export interface RunningComponent {
  /** Where its APIs listen, by name (written to endpoint.json and printed at start). */
  readonly endpoints: Readonly<Record<string, string>>;
  /** The component's health and replication view, for `ultracloud status` / `cluster status`. */
  status(): Promise<Readonly<Record<string, unknown>>>;
  /** Stops serving requests; runs before the actors stop. */
  stopServing(): Promise<void>;
  /** Releases storage; runs after the actors stopped. */
  release(): Promise<void>;
  /**
   * For components with Raft replicas, after a rejoin: whether every replica this node should
   * hold exists and has caught up, so the rejoin marker may go.
   */
  caughtUp?(): Promise<boolean>;
}

export interface ComponentDescriptor {
  readonly name: string;
  /** Components that must run on the same node, started before this one. */
  readonly dependencies: readonly string[];
  /**
   * Components this one talks to wherever they run (found through the receptionist): when they are
   * configured on the same node they start first, but they need not be on it.
   */
  readonly after?: readonly string[];
  start(context: ComponentContext): Promise<RunningComponent>;
}

/** The URL of an API served on `host`:`port`: https when the node has TLS settings (`tls`, as files or loaded). */
export function apiUrl(tls: ApiTls | ApiTlsFiles | undefined, host: string, port: number): string {
  return `${tls === undefined ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
