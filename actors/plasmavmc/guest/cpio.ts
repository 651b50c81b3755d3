// A writer for the cpio "newc" format the Linux kernel unpacks as its initramfs. Written here rather
// than piping `find | cpio` so that the archive holds exactly the listed entries (device nodes
// included, without root), in a fixed order, with fixed times: the same input makes the same bytes.

export type CpioEntry =
  | { readonly kind: 'dir'; readonly path: string; readonly mode?: number }
  | { readonly kind: 'file'; readonly path: string; readonly data: Uint8Array; readonly mode?: number }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string }
  | { readonly kind: 'char'; readonly path: string; readonly major: number; readonly minor: number; readonly mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** The archive of `entries` (paths relative, without a leading '/'), ending with the trailer. */
export function cpioNewc(entries: readonly CpioEntry[], mtime = 0): Uint8Array {
  const chunks: Uint8Array[] = [];
  const encoder = new TextEncoder();
  let ino = 1;
  const push = (name: string, mode: number, data: Uint8Array, nlink: number, rdev: [number, number] = [0, 0]): void => {
    const nameBytes = encoder.encode(`${name}\u0000`);
    const header =
      '070701' +
      [ino++, mode, 0, 0, nlink, mtime, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0].map(hex8).join('');
    chunks.push(encoder.encode(header), nameBytes, new Uint8Array(pad4(110 + nameBytes.length)), data, new Uint8Array(pad4(data.length)));
  };
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, '');
    switch (e.kind) {
      case 'dir':
        push(path, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(0), 2);
        break;
      case 'file':
        push(path, S_IFREG | (e.mode ?? 0o644), e.data, 1);
        break;
      case 'symlink':
        push(path, S_IFLNK | 0o777, encoder.encode(e.target), 1);
        break;
      case 'char':
        push(path, S_IFCHR | (e.mode ?? 0o600), new Uint8Array(0), 1, [e.major, e.minor]);
        break;
    }
  }
  push('TRAILER!!!', 0, new Uint8Array(0), 1);
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
