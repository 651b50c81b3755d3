// Runs the benchmarks named on the command line (all when none): `npm run bench -- actors`.
import { report } from './report.ts';

const suites: Record<string, () => Promise<void>> = {
  actors: async () => report('actor runtime', await (await import('./actors.bench.ts')).runActorBenches()),
  sim: async () => report('deterministic simulator', await (await import('./sim.bench.ts')).runSimBenches()),
  transport: async () => report('cluster transport', await (await import('./transport.bench.ts')).runTransportBenches()),
  // The gRPC server against a unary server on node:http2; RUNS defaults to 5.
  grpc: async () => report('gRPC server', await (await import('./grpc.bench.ts')).runGrpcBenches()),
  iam: async () => report('iam', await (await import('./iam.bench.ts')).runIamBenches()),
  // Root, real host networking (namespaces, OVS); RUNS defaults to 3.
  prismnet: async () => report('prismnet dataplanes', await (await import('./prismnet.bench.ts')).runPrismnetBenches()),
  // Slow (real processes, fsync): its RUNS defaults to 3, which reportChainfire puts in the heading.
  chainfire: async () => {
    const { runChainfireBenches, reportChainfire } = await import('./chainfire.bench.ts');
    reportChainfire(await runChainfireBenches());
  },
  // A sequential put's server and client time at the client's socket (root, perf); RUNS defaults to 20.
  'chainfire-wire': async () => {
    const { runChainfireWireBenches, reportChainfireWire } = await import('./chainfire-wire.bench.ts');
    reportChainfireWire(await runChainfireWireBenches());
  },
  // Slow (real processes, fsync): RUNS defaults to 3; TOPOLOGY=1 or 3 runs one of the two.
  flaredb: async () => {
    const { runFlaredbBenches, reportFlaredb } = await import('./flaredb.bench.ts');
    reportFlaredb(await runFlaredbBenches());
  },
  // Real QEMU (root; TCG unless ACCEL=kvm) and the fake driver; RUNS defaults to 3.
  plasmavmc: async () => report('plasmavmc', await (await import('./plasmavmc.bench.ts')).runPlasmavmcBenches(), `median of ${process.env.RUNS ?? 3} runs`),
  // `ultracloud up` cold start and idle RSS against a single etcd (root, etcd-server).
  up: async () => {
    const { runUpBenches, reportUp } = await import('./up.bench.ts');
    reportUp(await runUpBenches());
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
