// The command table of the `ultracloud` CLI: name, one-line summary, and a lazy loader.
export type CommandMain = (argv: string[]) => Promise<number>;

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly load: () => Promise<CommandMain>;
}

export const commands: readonly Command[] = [
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
    '',
  ].join('\n');
}
