#!/usr/bin/env node
// The `ultracloud` command: one binary for the node daemon, the operator CLI and the simulator
// (../shared/design/CLI.md is the contract). Each command lives in its own module and is loaded
// only when used, so `ultracloud sim` does not pay for libp2p and the daemon does not load the
// simulator. Exit codes: 0 success, 1 the operation failed, 2 usage error.
import { commands, usage } from './commands.ts';
import { HelpRequested, UsageError } from './usage-error.ts';

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    process.stderr.write(`ultracloud: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    return await (await command.load())(rest);
  } catch (error) {
    if (error instanceof HelpRequested) {
      process.stdout.write(`${error.message}\n`);
      return 0;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`ultracloud ${name}: ${error.message}\n`);
      return 2;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`ultracloud ${name}: ${message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
