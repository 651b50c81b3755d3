// Every component the component matrix names, and the descriptor of each one that is built.
// A node configured with a component that is not built yet is refused with a message naming it —
// never silently skipped.
import { UltraError } from '../errors.ts';
import type { ComponentDescriptor } from './component.ts';

export const MATRIX_COMPONENTS = [
  'chainfire',
  'flaredb',
  'iam',
  'plasmavmc',
  'prismnet',
  'lightningstor',
  'coronafs',
  'flashdns',
  'fiberlb',
  'apigateway',
  'nightlight',
  'creditservice',
  'k8shost',
  'deployer',
  'nix-agent',
  'fleet-scheduler',
  'node-agent',
  'first-boot-automation',
  'install-target',
] as const;

const BUILT: Readonly<Record<string, () => Promise<ComponentDescriptor>>> = {
  chainfire: async () => (await import('../../actors/chainfire/descriptor.ts')).chainfireDescriptor,
  flaredb: async () => (await import('../../actors/flaredb/descriptor.ts')).flaredbDescriptor,
  iam: async () => (await import('../../actors/iam/descriptor.ts')).iamDescriptor,
  prismnet: async () => (await import('../../actors/prismnet/descriptor.ts')).prismnetDescriptor,
  plasmavmc: async () => (await import('../../actors/plasmavmc/descriptor.ts')).plasmavmcDescriptor,
};

/** Names of the components this build has. */
export const BUILT_COMPONENTS: readonly string[] = Object.keys(BUILT);

/** The descriptors for `names`, dependencies first; refuses unknown and not-yet-built components. */
export async function resolveComponents(names: readonly string[]): Promise<ComponentDescriptor[]> {
  const unknown = names.filter((n) => !(MATRIX_COMPONENTS as readonly string[]).includes(n));
  if (unknown.length > 0) throw new UltraError('InvalidArgument', `unknown component(s): ${unknown.join(', ')}; the matrix names ${MATRIX_COMPONENTS.join(', ')}`);
  const missing = names.filter((n) => BUILT[n] === undefined);
  if (missing.length > 0) {
    throw new UltraError('FailedPrecondition', `component(s) not built yet: ${missing.join(', ')} (built so far: ${Object.keys(BUILT).join(', ')}); remove them from the node's components`);
  }
  const descriptors = await Promise.all(names.map((n) => BUILT[n]!()));
  const ordered: ComponentDescriptor[] = [];
  const visit = (d: ComponentDescriptor, path: string[]): void => {
    if (ordered.includes(d)) return;
    if (path.includes(d.name)) throw new UltraError('Internal', `component dependency cycle: ${[...path, d.name].join(' → ')}`);
    for (const dep of d.dependencies) {
      const found = descriptors.find((x) => x.name === dep);
      if (found === undefined) throw new UltraError('FailedPrecondition', `component ${d.name} needs ${dep} on the same node; add it to the components`);
      visit(found, [...path, d.name]);
    }
    for (const soft of d.after ?? []) {
      const found = descriptors.find((x) => x.name === soft);
      if (found !== undefined) visit(found, [...path, d.name]);
    }
    ordered.push(d);
  };
  for (const d of descriptors) visit(d, []);
  return ordered;
}
