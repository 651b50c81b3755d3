// A component's own section of node.json (`settings.<component>`), checked against the component's
// schema when it starts: a bad one stops the node with the setting named, before anything opens.
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { UltraError } from '../errors.ts';

/** A parser for `settings.<component>`: absent means `{}`; what fails the schema is InvalidArgument naming the fields. */
export function settingsParser<S extends TSchema>(component: string, schema: S): (value: unknown) => Static<S> {
  const check = TypeCompiler.Compile(schema);
  return (value) => {
    const settings = value ?? {};
    if (!check.Check(settings)) {
      const problems = [...check.Errors(settings)].slice(0, 3).map((e) => `${e.path || '/'}: ${e.message}`);
      throw new UltraError('InvalidArgument', `settings.${component} in the node config is invalid: ${problems.join('; ')}`);
    }
    return settings;
  };
}
