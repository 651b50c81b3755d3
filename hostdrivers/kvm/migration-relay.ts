// Byte relays that carry a live migration between two agents: QEMU only ever talks to a unix socket
// on its own host (which works whatever network namespace its tap put it in), and the agents join
// those sockets over TCP on the node network.
//
//   source QEMU ─unix─▶ outgoing relay ─TCP─▶ incoming relay ─unix─▶ target QEMU (-incoming unix:…)
import { connect, createServer, type Server, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import type { MigrationAddress } from './driver.ts';

export interface Relay {
  readonly address: MigrationAddress | undefined;
  close(): Promise<void>;
}

function pipeBoth(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const end = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on('error', end);
  b.on('error', end);
  a.on('close', end);
  b.on('close', end);
}

async function listen(server: Server, target: { port: number; host: string } | { path: string }): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.off('error', reject);
      resolve();
    };
    if ('path' in target) server.listen(target.path, done);
    else server.listen(target.port, target.host, done);
  });
}

function closer(server: Server, sockets: Set<Socket>, path?: string): () => Promise<void> {
  return async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (path !== undefined) await rm(path, { force: true });
  };
}

/** Target side: a TCP listener on `host` (ephemeral port) forwarding to QEMU's incoming unix socket. */
export async function incomingRelay(host: string, unixPath: string): Promise<Relay> {
  const sockets = new Set<Socket>();
  const server = createServer((tcp) => {
    const unix = connect({ path: unixPath });
    sockets.add(tcp).add(unix);
    pipeBoth(tcp, unix);
  });
  await listen(server, { port: 0, host });
  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : 0;
  return { address: { host, port }, close: closer(server, sockets) };
}

/** Source side: a unix listener QEMU migrates to, forwarding to the target's TCP relay. */
export async function outgoingRelay(unixPath: string, target: MigrationAddress): Promise<Relay> {
  await rm(unixPath, { force: true });
  const sockets = new Set<Socket>();
  const server = createServer((unix) => {
    const tcp = connect({ host: target.host, port: target.port });
    tcp.setNoDelay(true);
    sockets.add(tcp).add(unix);
    pipeBoth(unix, tcp);
  });
  await listen(server, { path: unixPath });
  return { address: undefined, close: closer(server, sockets, unixPath) };
}
