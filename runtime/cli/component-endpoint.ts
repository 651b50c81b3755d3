// Where a component's API is, for the CLI commands that talk to one (iam, prismnet, plasmavmc,
// flaredb): the command's --<x>-endpoint flag, else $ULTRACLOUD_<X>_ENDPOINT, else the endpoint
// that the node running in --data-dir wrote into its endpoint.json.
import { UltraError } from '../errors.ts';
import { readEndpointFile } from '../node/endpoint-file.ts';

export interface ComponentApi {
  /** The component's name, as in `--enable` and the endpoint file's keys (`<name>-http`). */
  readonly component: string;
  /** The flag that overrides it, without dashes (e.g. `net-endpoint`). */
  readonly flag: string;
  /** The environment variable that overrides it. */
  readonly env: string;
}

export function componentEndpoint(api: ComponentApi, flagValue: string | undefined, dataDir: string): string {
  const explicit = flagValue ?? process.env[api.env];
  if (explicit !== undefined) return explicit.replace(/\/+$/, '');
  let components: Readonly<Record<string, string>>;
  try {
    components = readEndpointFile(dataDir).components;
  } catch (error) {
    throw new UltraError('NotFound', `no running node found in ${dataDir}: pass --${api.flag} URL (or set ${api.env}), or --data-dir of a running node (${UltraError.from(error).message.split(':')[0]})`);
  }
  const url = components[`${api.component}-http`];
  if (url === undefined) throw new UltraError('NotFound', `the node in ${dataDir} does not run ${api.component}; pass --${api.flag} URL of a node that does (or set ${api.env})`);
  return url;
}
