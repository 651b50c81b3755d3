// Runs the benchmarks named on the command line (all when none): `npm run bench -- actors`.
import { report } from './report.ts';

const suites: Record<string, () => Promise<void>> = {
  actors: async () => report('actor runtime', await (await import('./actors.bench.ts')).runActorBenches()),
  sim: async () => report('deterministic simulator', await (await import('./sim.bench.ts')).runSimBenches()),
  transport: async () => report('cluster transport', await (await import('./transport.bench.ts')).runTransportBenches()),
  // Slow (real processes, fsync): its RUNS defaults to 3, which reportChainfire puts in the heading.
  chainfire: async () => {
    const { runChainfireBenches, reportChainfire } = await import('./chainfire.bench.ts');
    reportChainfire(await runChainfireBenches());
  },
  // Real processes in network namespaces (root); TRIALS defaults to 10.
  ha: async () => {
    const { runHaBenches, reportHa } = await import('./ha.bench.ts');
    reportHa(await runHaBenches());
  },
};

const wanted = process.argv.slice(2);
for (const name of wanted.length > 0 ? wanted : Object.keys(suites)) {
  const suite = suites[name];
  if (suite === undefined) {
    process.stderr.write(`unknown benchmark '${name}'; known: ${Object.keys(suites).join(', ')}\n`);
    process.exit(2);
  }
  await suite();
}
