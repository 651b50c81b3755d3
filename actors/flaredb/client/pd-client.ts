// Calls to the placement driver: sent to the store the caller last saw lead the PD group, following
// `not-leader` redirects, trying the other stores while there is no leader, until the deadline.
// A request that changes PD state is sent again only when it provably had no effect (a redirect, a
// message no actor handled); otherwise its failure is reported as "outcome unknown".
import type { ActorSystem, ReplyFor } from '../../../runtime/actors/index.ts';
import { UltraError, isUltraError } from '../../../runtime/errors.ts';
import { regionErrorOf } from '../core/region.ts';
import { storeRef, type PdMsg } from '../store/messages.ts';

/** Where flaredb stores run: node ids, from the receptionist or a fixed list. */
export interface StoreDirectory {
  nodes(): Promise<readonly string[]>;
}

/** How long one attempt may take before the store it went to counts as gone. */
export const ATTEMPT_TIMEOUT_MS = 2_000;

export function wasUndelivered(error: unknown): boolean {
  return isUltraError(error) && (error.details as { undelivered?: unknown } | undefined)?.undelivered === true;
}

/** Failures after which a request may have taken effect: no answer, the node went down, the store stopped. */
export function isAmbiguous(error: unknown): boolean {
  return isUltraError(error) && (error.code === 'Unavailable' || error.code === 'DeadlineExceeded') && !wasUndelivered(error) && regionErrorOf(error) === undefined;
}

export function outcomeUnknown(what: string): UltraError {
  return new UltraError('Unavailable', `${what}: no answer in time (a store or the network failed); the write may or may not have been applied — read it back before retrying`);
}

export function sleep(system: ActorSystem, ms: number): Promise<void> {
  return new Promise((resolve) => system.env.setTimer(ms, resolve));
}

export class PdClient {
  readonly #system: ActorSystem;
  readonly #directory: StoreDirectory;
  readonly #timeoutMs: number;
  #leader: string | undefined;

  constructor(system: ActorSystem, directory: StoreDirectory, timeoutMs: number) {
    this.#system = system;
    this.#directory = directory;
    this.#timeoutMs = timeoutMs;
  }

  /** Sends `msg` to the PD leader. `idempotent`: safe to send again after an ambiguous failure. */
  async call<Q extends PdMsg>(msg: Q, idempotent: boolean, timeoutMs = this.#timeoutMs): Promise<ReplyFor<PdMsg, Q>> {
    const env = this.#system.env;
    const deadline = env.monotonicNow() + timeoutMs;
    let candidates = await this.#directory.nodes();
    let target = this.#leader ?? this.#first(candidates);
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      const left = deadline - env.monotonicNow();
      if (left <= 0) {
        const why = lastError === undefined ? 'no flaredb store is running' : UltraError.from(lastError).message;
        throw new UltraError('Unavailable', `flaredb placement driver unreachable (${why}); retry, or check \`ultracloud cluster status\``);
      }
      if (target === undefined) {
        // flaredb is not running anywhere yet (still starting): wait for a store to register.
        await sleep(this.#system, Math.min(50 * (attempt + 1), 250));
        candidates = await this.#directory.nodes();
        target = this.#first(candidates);
        continue;
      }
      try {
        const reply = (await this.#system.ask(storeRef(target), msg as never, { timeoutMs: Math.min(left, ATTEMPT_TIMEOUT_MS) })) as ReplyFor<PdMsg, Q>;
        this.#leader = target;
        return reply;
      } catch (error) {
        lastError = error;
        const redirect = regionErrorOf(error);
        if (redirect?.kind === 'not-leader' && redirect.leader !== null && redirect.leader !== target) {
          target = this.#leader = redirect.leader;
          continue;
        }
        if (redirect === undefined && !wasUndelivered(error)) {
          if (!isUltraError(error) || (error.code !== 'Unavailable' && error.code !== 'DeadlineExceeded')) throw error;
          if (!idempotent) throw outcomeUnknown(`placement driver request ${msg.type}`);
        }
        this.#leader = undefined;
        candidates = await this.#directory.nodes();
        target = candidates.length === 0 ? undefined : candidates[(candidates.indexOf(target) + 1) % candidates.length];
        await sleep(this.#system, Math.min(25 * (attempt + 1), 250));
      }
    }
  }

  /** The local node's store first: it is a PD voter in the common case. */
  #first(candidates: readonly string[]): string | undefined {
    return candidates.includes(this.#system.nodeId) ? this.#system.nodeId : candidates[0];
  }
}
