// `ultracloud version`: the package version and the Node.js it runs on.
import { readFileSync } from 'node:fs';

export async function versionCommand(): Promise<number> {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  process.stdout.write(`ultracloud ${pkg.version} (node ${process.version})\n`);
  return 0;
}
