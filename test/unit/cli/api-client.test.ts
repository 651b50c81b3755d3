// The CLI's client over several endpoints: unreachable nodes are skipped, a request that may have
// reached a node that then failed is not sent again elsewhere unless it is a read.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../../runtime/cli/api-client.ts';

const servers: Server[] = [];

/** A node whose API answers `{ node: name, method }` and counts requests; `broken` drops the connection instead. */
async function node(name: string, broken = false): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    if (broken) {
      req.socket.destroy();
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ node: name, method: req.method }));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests };
}

/** A URL nothing listens on (a node that is down). */
async function downNode(): Promise<string> {
  const { url } = await node('gone');
  const server = servers.pop()!;
  await new Promise<void>((r) => server.close(() => r()));
  return url;
}

afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise<void>((r) => server.close(() => r()));
});

describe('ApiClient over several endpoints', () => {
  it('skips a node that is down, for reads and writes, and keeps using the one that answered', async () => {
    const down = await downNode();
    const b = await node('b');
    const client = new ApiClient(`${down}, ${b.url}/`, 'token');
    expect(await client.get('/x')).toEqual({ node: 'b', method: 'GET' });
    expect(client.baseUrl).toBe(b.url);
    expect(await client.post('/x', {})).toEqual({ node: 'b', method: 'POST' });
    expect(b.requests()).toBe(2);
  });

  it('fails with every endpoint named when none can be reached', async () => {
    const [x, y] = [await downNode(), await downNode()];
    await expect(new ApiClient(`${x},${y}`, undefined).get('/x')).rejects.toMatchObject({ code: 'Unavailable', message: expect.stringContaining(y) });
  });

  it('does not send a write to a second node after the first failed during it (it may have taken effect)', async () => {
    const a = await node('a', true);
    const b = await node('b');
    await expect(new ApiClient(`${a.url},${b.url}`, undefined).post('/x', {})).rejects.toMatchObject({ code: 'Unavailable', message: expect.stringContaining('may or may not') });
    expect(b.requests()).toBe(0);
    // A read is safe to send again.
    expect(await new ApiClient(`${a.url},${b.url}`, undefined).get('/x')).toEqual({ node: 'b', method: 'GET' });
  });

  it('refuses an empty endpoint list', () => {
    expect(() => new ApiClient(' , ', undefined)).toThrow(/no endpoint/);
  });
});
