// Test harness for prismnet's control plane: a PrismnetService over the in-memory StrongKv, a
// scripted dataplane directory, and a StrongKv wrapper that lets fast-check's scheduler interleave
// every store operation of concurrent requests.
import type { Scheduler } from 'fast-check';
import { VirtualEnv, VirtualScheduler } from '../../runtime/env/virtual-env.ts';
import { silentLogger } from '../../runtime/log/logger.ts';
import { UltraError } from '../../runtime/errors.ts';
import { parseCidr } from '../../hostdrivers/network/ipv4.ts';
import type { ChangeEvent, ChangeFeed, CasResult, ScanPage, StrongKv, VersionedEntry } from '../../actors/flaredb/client/strong-kv.ts';
import type { DataplanePortReport } from '../../actors/prismnet/client/messages.ts';
import { PrismnetService, type DataplaneDirectory } from '../../actors/prismnet/service.ts';
import { PrismnetStore } from '../../actors/prismnet/store.ts';
import { MemoryStrongKv } from '../support/memory-strong-kv.ts';

export const SCOPE = { org: 'acme', project: 'web' } as const;

/** Answers binds as a dataplane would; `nodes` run one, `report` decides what it made of a port. */
export class ScriptedDataplanes implements DataplaneDirectory {
  readonly nodes = new Set(['node-a']);
  report: (portId: string | undefined) => DataplanePortReport | null = (portId) => (portId === undefined ? null : { state: 'active', device: `tap-${portId.slice(5, 9)}`, netns: 'pnvx' });
  readonly syncs: Array<{ node: string; portId: string | undefined }> = [];

  require(node: string): Promise<void> {
    return this.nodes.has(node) ? Promise.resolve() : Promise.reject(new UltraError('Unavailable', `node ${node} runs no prismnet dataplane`));
  }

  async sync(node: string, portId: string | undefined): Promise<DataplanePortReport | null> {
    await this.require(node);
    this.syncs.push({ node, portId });
    return this.report(portId);
  }

  probe(): Promise<{ reachable: boolean }> {
    return Promise.resolve({ reachable: true });
  }
}

export async function serviceHarness(kv: StrongKv = new MemoryStrongKv()) {
  const env = new VirtualEnv(new VirtualScheduler(7), { name: 'test' });
  const store = new PrismnetStore(kv);
  await store.ensureNamespace();
  const dataplanes = new ScriptedDataplanes();
  const service = new PrismnetService({ store, env, dataplanes, log: silentLogger(), transitPool: parseCidr('169.254.128.0/28', 'pool') });
  return { service, store, dataplanes, kv, env };
}

/** Every operation waits for the fast-check scheduler first, so concurrent requests interleave arbitrarily. */
export class InterleavingKv implements StrongKv {
  readonly #inner: StrongKv;
  readonly #s: Scheduler;

  constructor(inner: StrongKv, scheduler: Scheduler) {
    this.#inner = inner;
    this.#s = scheduler;
  }

  async #turn(label: string): Promise<void> {
    await this.#s.schedule(Promise.resolve(), label);
  }

  async get(ns: string, key: string): Promise<VersionedEntry | undefined> {
    await this.#turn(`get ${key}`);
    return this.#inner.get(ns, key);
  }

  async compareAndSwap(ns: string, key: string, value: Uint8Array, expected: number): Promise<CasResult> {
    await this.#turn(`cas ${key}@${expected}`);
    return this.#inner.compareAndSwap(ns, key, value, expected);
  }

  async delete(ns: string, key: string, expected?: number): Promise<CasResult> {
    await this.#turn(`delete ${key}`);
    return this.#inner.delete(ns, key, expected);
  }

  async scan(ns: string, start: string, end: string | undefined, limit: number): Promise<ScanPage> {
    await this.#turn(`scan ${start}`);
    return this.#inner.scan(ns, start, end, limit);
  }

  watch(ns: string, prefix: string, onChange: (event: ChangeEvent) => void, onReset: () => void): Promise<ChangeFeed> {
    return this.#inner.watch(ns, prefix, onChange, onReset);
  }

  ensureStrongNamespace(ns: string): Promise<void> {
    return this.#inner.ensureStrongNamespace(ns);
  }
}
