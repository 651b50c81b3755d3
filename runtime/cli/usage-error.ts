// A usage error: the command line itself is wrong (exit code 2, per the CLI contract).
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
