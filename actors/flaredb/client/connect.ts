// How other components reach flaredb: `connectFlaredb(ctx)` gives a StrongKv (and the rest of the
// flaredb client) that finds the stores through the receptionist, so it works on any node, whether
// or not flaredb runs there, and waits and retries while flaredb is still starting.
import type { ActorRef, ActorSystem } from '../../../runtime/actors/index.ts';
import type { ReceptionistMsg } from '../../../runtime/cluster/receptionist.ts';
import { FLAREDB_SERVICE } from '../store/messages.ts';
import { FlaredbClient } from './flaredb-client.ts';
import type { StoreDirectory } from './pd-client.ts';

/** How long a receptionist listing is reused before asking again. */
const LISTING_TTL_MS = 1_000;

export interface ConnectContext {
  readonly system: ActorSystem;
  readonly receptionist: ActorRef<ReceptionistMsg>;
}

/** The stores registered under FLAREDB_SERVICE, cached briefly (empty while none has registered). */
export function receptionistDirectory(ctx: ConnectContext): StoreDirectory {
  let cached: { readonly at: number; readonly nodes: readonly string[] } | undefined;
  return {
    async nodes() {
      const now = ctx.system.env.monotonicNow();
      if (cached !== undefined && cached.nodes.length > 0 && now - cached.at < LISTING_TTL_MS) return cached.nodes;
      try {
        const refs = await ctx.system.ask(ctx.receptionist, { type: 'lookup', service: FLAREDB_SERVICE }, { timeoutMs: 2_000 });
        const nodes = [...new Set(refs.map((r) => r.node))].sort();
        cached = { at: now, nodes };
        return nodes;
      } catch {
        return cached?.nodes ?? [];
      }
    },
  };
}

export function connectFlaredb(ctx: ConnectContext, options: { readonly requestTimeoutMs?: number; readonly startupTimeoutMs?: number } = {}): FlaredbClient {
  return new FlaredbClient({ system: ctx.system, directory: receptionistDirectory(ctx), ...options });
}

/** A fixed set of store nodes (tests, the simulator). */
export function staticDirectory(nodes: readonly string[]): StoreDirectory {
  const sorted = [...nodes].sort();
  return { nodes: () => Promise.resolve(sorted) };
}
