// The command table of the `ultracloud` CLI: name, one-line summary, and a lazy loader.
export type CommandMain = (argv: string[]) => Promise<number>;

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly load: () => Promise<CommandMain>;
}

export const commands: readonly Command[] = [
  {
    name: 'up',
    summary: 'run the single-node dev profile in one process (--enable a,b, --data-dir D)',
    load: async () => (await import('./up-command.ts')).upCommand,
  },
  {
    name: 'trial',
    summary: 'the single-node trial smoke against a running `up`: tenant, network, VM, ping, teardown',
    load: async () => (await import('./trial-command.ts')).trialCommand,
  },
  {
    name: 'node',
    summary: 'node init (write a node config) | node start (run a node daemon) | node reset (after a lost disk)',
    load: async () => (await import('./node-command.ts')).nodeCommand,
  },
  {
    name: 'cluster',
    summary: 'cluster init (configs for N nodes) | members | status | admit | backup | restore',
    load: async () => (await import('./actor-commands.ts')).clusterCommand,
  },
  {
    name: 'status',
    summary: "a node's components, health and actor count",
    load: async () => (await import('./actor-commands.ts')).statusCommand,
  },
  {
    name: 'actors',
    summary: 'the supervision tree: paths, status, mailbox depth, restarts',
    load: async () => (await import('./actor-commands.ts')).actorsCommand,
  },
  {
    name: 'send',
    summary: 'send TARGET PATH JSON: tell an actor a message',
    load: async () => (await import('./actor-commands.ts')).sendCommand,
  },
  {
    name: 'ask',
    summary: 'ask TARGET PATH JSON: ask an actor and print its reply',
    load: async () => (await import('./actor-commands.ts')).askCommand,
  },
  { name: 'login', summary: 'log in to iam and store the token for the CLI (--bootstrap, --admin)', load: async () => (await import('./login-command.ts')).loginCommand },
  { name: 'iam', summary: 'iam: orgs, projects, users, groups, service accounts, API keys, roles, bindings, audit', load: async () => (await import('./iam-command.ts')).iamCommand },
  { name: 'vm', summary: 'plasmavmc: VMs (create --wait, list, start, stop, reboot, migrate, delete, console, watch), images, workers', load: async () => (await import('./vm-command.ts')).vmCommand },
  { name: 'kv', summary: 'flaredb: regions, stores, split, transfer-leader, move a replica (--wait)', load: async () => (await import('./kv-command.ts')).kvCommand },
  { name: 'net', summary: 'prismnet: VPCs, subnets, ports (bind, probe), security groups and rules, routers, service IPs', load: async () => (await import('./net-command.ts')).netCommand },
  {
    name: 'sim',
    summary: 'run deterministic simulation scenarios (--list, --scenario S --seed N, --seeds A..B)',
    load: async () => (await import('./sim-command.ts')).simCommand,
  },
  {
    name: 'version',
    summary: 'print the UltraCloud and Node.js versions',
    load: async () => (await import('./version-command.ts')).versionCommand,
  },
];

export function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: ultracloud <command> [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `ultracloud <command> --help` for a command\'s options.',
    'Commands that talk to a node also take --endpoint URL[,URL…], --token T, --output table|json and, for',
    'nodes serving TLS, --cacert F and --client-cert F --client-key F (or $ULTRACLOUD_CACERT, _CERT, _KEY).',
    '',
  ].join('\n');
}
