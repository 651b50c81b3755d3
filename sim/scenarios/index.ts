// The scenario registry: every scenario the CLI and the sweeps know by name.
import type { Scenario } from '../scenario.ts';
import { chainfire } from './chainfire.ts';
import { deathWatch } from './death-watch.ts';
import { flaredb, flaredbMoves } from './flaredb.ts';
import { iam, iamStaleGate } from './iam.ts';
import { membership } from './membership.ts';
import { plasmavmc } from './plasmavmc.ts';
import { replicatedRegister, replicatedRegisterBuggy } from './replicated-register.ts';
import { supervision } from './supervision.ts';

export const SCENARIOS: readonly Scenario[] = [supervision, deathWatch, replicatedRegister, replicatedRegisterBuggy, membership, chainfire, flaredb, flaredbMoves, iam, iamStaleGate, plasmavmc];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
