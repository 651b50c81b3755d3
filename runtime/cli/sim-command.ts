// `ultracloud sim`: runs simulator scenarios (sim/cli.ts holds the runner; this only supplies the
// real clock used to report simulated-time/wall-time ratios).
import { realEnv } from '../env/real-env.ts';

export async function simCommand(argv: string[]): Promise<number> {
  const { runSim } = await import('../../sim/cli.ts');
  return runSim(argv, (line) => process.stdout.write(`${line}\n`), () => realEnv().monotonicNow());
}
