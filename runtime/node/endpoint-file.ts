// `<dataDir>/endpoint.json`: how local CLIs find a running node's control API (written at start,
// removed at stop). Kept apart from the daemon so the CLI does not load libp2p to read it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UltraError } from '../errors.ts';

export const ENDPOINT_FILE = 'endpoint.json';

export interface NodeEndpoint {
  readonly node: string;
  readonly http: string;
  readonly addresses: string[];
  readonly pid: number;
  /** Component API addresses by name, e.g. "chainfire-grpc": "127.0.0.1:2379". */
  readonly components: Readonly<Record<string, string>>;
}

export function readEndpointFile(dataDir: string): NodeEndpoint {
  const file = join(dataDir, ENDPOINT_FILE);
  if (!existsSync(file)) {
    throw new UltraError('NotFound', `no running node found: ${file} does not exist (start one with \`ultracloud node start --data-dir ${dataDir}\`, or pass --endpoint / set ULTRACLOUD_ENDPOINT)`);
  }
  const endpoint = JSON.parse(readFileSync(file, 'utf8')) as Partial<NodeEndpoint>;
  if (typeof endpoint.http !== 'string' || typeof endpoint.node !== 'string') throw new UltraError('FailedPrecondition', `${file} is not a node endpoint file`);
  return endpoint as NodeEndpoint;
}
