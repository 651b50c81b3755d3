// Two processes over libp2p: the parent asks an actor hosted by a child Node process, sees the
// failure detector report the child down while it is frozen (SIGSTOP) and up again when it thaws,
// and sees Terminated(node-down) within a bound after the child is killed (SIGKILL).
import { spawnWatcher } from '../support/watcher.ts';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActorRef, AnyRef } from '../../runtime/actors/index.ts';
import type { PeerStatusChange } from '../../transports/libp2p/libp2p-transport.ts';
import type { CounterMsg } from '../support/worker-actors.ts';
import { env, TestCluster, waitUntil } from './libp2p-test-nodes.ts';

const fixture = fileURLToPath(new URL('./fixtures/remote-node.ts', import.meta.url));

let cluster: TestCluster;
let child: ResultPromise | undefined;
afterEach(async () => {
  child?.kill('SIGKILL');
  await child;
  child = undefined;
  await cluster.cleanup();
});

describe('libp2p transport: across processes', () => {
  it('asks an actor in a child process, and sees it down when frozen and when killed', async () => {
    cluster = await TestCluster.create();
    const key = await cluster.clusterKey();
    const parent = await cluster.node('parent', key);
    child = execa(process.execPath, [fixture, join(cluster.root, 'child'), join(cluster.root, 'cluster-key'), parent.transport.listenAddresses[0]!], {
      reject: false,
      buffer: false,
      stdin: 'ignore',
      stderr: 'inherit',
    });
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const hello = JSON.parse(line) as { address: string; counter: ActorRef<CounterMsg> };
    const node = parent.transport.addPeer(hello.address);
    expect(hello.counter.node).toBe(node);
    const changes: PeerStatusChange[] = [];
    parent.transport.onPeerStatus((change) => changes.push(change));
    await waitUntil(() => parent.transport.peerStatus(node) === 'up', 10_000, 'child up');

    parent.system.tell(hello.counter, { type: 'inc', by: 41 });
    parent.system.tell(hello.counter, { type: 'inc', by: 1 });
    expect(await parent.system.ask(hello.counter, { type: 'get' }, { timeoutMs: 5_000 })).toBe(42);

    // Frozen: the connection stays open, only the heartbeats stop; phi says down.
    const { ref: watcher, seen } = spawnWatcher(parent.system);
    parent.system.tell(watcher, { type: 'watch', ref: hello.counter as AnyRef });
    expect(await parent.system.ask(hello.counter, { type: 'get' }, { timeoutMs: 5_000 })).toBe(42);
    child.kill('SIGSTOP');
    await waitUntil(() => seen.length === 1, 5_000, 'Terminated while frozen');
    expect(changes.at(-1)).toEqual({ node, status: 'down', reason: 'phi' });
    expect(seen[0]).toEqual({ type: 'terminated', ref: hello.counter, reason: 'node-down' });
    child.kill('SIGCONT');
    await waitUntil(() => parent.transport.peerStatus(node) === 'up', 5_000, 'child up after thawing');
    expect(changes.at(-1)).toEqual({ node, status: 'up' });
    expect(await parent.system.ask(hello.counter, { type: 'get' }, { timeoutMs: 5_000 })).toBe(42);

    // Killed: the connection drops and nothing answers the redials.
    parent.system.tell(watcher, { type: 'watch', ref: hello.counter as AnyRef });
    expect(await parent.system.ask(hello.counter, { type: 'get' }, { timeoutMs: 5_000 })).toBe(42);
    const killedAt = env.monotonicNow();
    child.kill('SIGKILL');
    expect((await child).signal).toBe('SIGKILL');
    await waitUntil(() => seen.length === 2, 5_000, 'Terminated after the kill');
    expect(env.monotonicNow() - killedAt).toBeLessThan(2_000);
    expect(seen[1]).toEqual({ type: 'terminated', ref: hello.counter, reason: 'node-down' });
    expect(parent.transport.peerStatus(node)).toBe('down');
  });
});
