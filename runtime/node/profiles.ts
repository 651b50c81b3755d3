// The three canonical profiles of the component matrix (../shared/design/component-matrix.md), as
// data: which components each requires, which it may add, and the named toggles that add them.
// `ultracloud up` builds the single-node dev profile from this; `cluster init --profile ha` the HA
// one. A component the profile names but this build does not have is refused by the component
// registry with its name, never skipped.
import { UltraError } from '../errors.ts';
import { MATRIX_COMPONENTS } from './component-registry.ts';

export type ComponentName = (typeof MATRIX_COMPONENTS)[number];

export interface Profile {
  readonly name: string;
  readonly summary: string;
  /** On every node of the profile. */
  readonly required: readonly ComponentName[];
  /** Only on the bootstrap node (the first one). */
  readonly bootstrapOnly: readonly ComponentName[];
  readonly optional: readonly ComponentName[];
  /** Toggle name (as in the matrix's `ultracloud.quickstart.enable…` options) → component. */
  readonly toggles: Readonly<Record<string, ComponentName>>;
}

export const SINGLE_NODE_DEV: Profile = {
  name: 'single-node-dev',
  summary: 'one process: the VM-platform core for API development and one-box VM experiments',
  required: ['chainfire', 'flaredb', 'iam', 'plasmavmc', 'prismnet'],
  bootstrapOnly: [],
  optional: ['lightningstor', 'coronafs', 'flashdns', 'fiberlb', 'apigateway', 'nightlight', 'creditservice', 'k8shost'],
  toggles: {
    enableLightningStor: 'lightningstor',
    enableCoronafs: 'coronafs',
    enableFlashDNS: 'flashdns',
    enableFiberLB: 'fiberlb',
    enableApiGateway: 'apigateway',
    enableNightlight: 'nightlight',
    enableCreditService: 'creditservice',
    enableK8sHost: 'k8shost',
  },
};

export const HA_CONTROL_PLANE: Profile = {
  name: 'ha-control-plane',
  summary: 'three control-plane nodes replicating chainfire, flaredb and iam',
  required: ['chainfire', 'flaredb', 'iam', 'nix-agent'],
  bootstrapOnly: ['deployer'],
  optional: ['fleet-scheduler', 'node-agent', 'prismnet', 'flashdns', 'fiberlb', 'plasmavmc', 'lightningstor', 'coronafs', 'k8shost', 'apigateway', 'nightlight', 'creditservice'],
  toggles: {},
};

export const BARE_METAL_BOOTSTRAP: Profile = {
  name: 'bare-metal-bootstrap',
  summary: 'installer, phone-home and first-boot automation converging machines into a profile',
  required: ['deployer', 'first-boot-automation', 'install-target', 'nix-agent'],
  bootstrapOnly: [],
  optional: ['node-agent', 'fleet-scheduler'],
  toggles: {},
};

export const PROFILES: readonly Profile[] = [SINGLE_NODE_DEV, HA_CONTROL_PLANE, BARE_METAL_BOOTSTRAP];

/**
 * The components a node of `profile` hosts with `enabled` optional ones (by component or toggle
 * name), in matrix order. Unknown names and components the profile does not offer are refused.
 */
export function profileComponents(profile: Profile, enabled: readonly string[], options: { bootstrap?: boolean } = {}): ComponentName[] {
  const chosen = new Set<ComponentName>([...profile.required, ...(options.bootstrap === true ? profile.bootstrapOnly : [])]);
  const problems: string[] = [];
  for (const raw of enabled) {
    const name = raw.trim();
    if (name === '') continue;
    const component = profile.toggles[name] ?? (MATRIX_COMPONENTS as readonly string[]).find((c) => c === name.toLowerCase());
    if (component === undefined) problems.push(`'${name}' is not a component or toggle`);
    else if (!profile.optional.includes(component as ComponentName) && !chosen.has(component as ComponentName)) problems.push(`${component} is not optional in the ${profile.name} profile`);
    else chosen.add(component as ComponentName);
  }
  if (problems.length > 0) {
    const offered = [...profile.optional, ...Object.keys(profile.toggles)].join(', ');
    throw new UltraError('InvalidArgument', `${problems.join('; ')}. The ${profile.name} profile can enable: ${offered}`);
  }
  return MATRIX_COMPONENTS.filter((c) => chosen.has(c));
}
