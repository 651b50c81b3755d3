// A usage error: the command line itself is wrong (exit code 2, per the CLI contract).
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** `--help` was asked for: the usage goes to stdout and the command exits 0. */
export class HelpRequested extends Error {
  override readonly name = 'HelpRequested';
}
