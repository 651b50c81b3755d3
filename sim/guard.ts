// The nondeterminism guard. While a simulation runs, the host's clocks, timers and randomness are
// replaced: a call to any of them from simulated code throws UltraError('Internal', 'nondeterminism:
// …') and is recorded, so the run fails even when an actor's supervisor swallows the throw.
//
// "From simulated code" is decided by async context, not by time: the run executes inside an
// AsyncLocalStorage scope, which follows its promise continuations and the scheduler's host turns,
// while the test runner's own timers and I/O callbacks (which also run during a simulation, between
// its events) stay outside the scope and reach the real functions.
//
// This module is the one place in sim/ that touches the real globals, and only through property
// access by name: to wrap them, never to call them for the simulation.
import { AsyncLocalStorage } from 'node:async_hooks';
import { UltraError } from '../runtime/errors.ts';

/** One guarded run's record of forbidden calls. */
export interface GuardScope {
  readonly violations: string[];
}

const scopes = new AsyncLocalStorage<GuardScope>();

interface Patch {
  readonly owner: object;
  readonly key: string;
  readonly label: string;
}

/** What is replaced: the host's sources of time, timers and randomness. */
function patches(): Patch[] {
  const g = globalThis as Record<string, unknown>;
  return [
    { owner: globalThis, key: 'setTimeout', label: 'setTimeout' },
    { owner: globalThis, key: 'setInterval', label: 'setInterval' },
    { owner: globalThis, key: 'setImmediate', label: 'setImmediate' },
    { owner: g.Date as object, key: 'now', label: 'Date.now' },
    { owner: g.Math as object, key: 'random', label: 'Math.random' },
    { owner: g.performance as object, key: 'now', label: 'performance.now' },
    { owner: g.crypto as object, key: 'randomUUID', label: 'crypto.randomUUID' },
  ];
}

let installed: Array<{ readonly patch: Patch; readonly own: PropertyDescriptor | undefined }> | undefined;
let active = 0;

function install(): void {
  installed = patches().map((patch) => {
    const own = Object.getOwnPropertyDescriptor(patch.owner, patch.key);
    const original = (patch.owner as Record<string, unknown>)[patch.key] as (...args: unknown[]) => unknown;
    const guardedFn = function (this: unknown, ...args: unknown[]): unknown {
      const scope = scopes.getStore();
      if (scope !== undefined) {
        const error = new UltraError('Internal', `nondeterminism: ${patch.label}() called inside a simulation; use the node's Env`);
        scope.violations.push(error.message);
        throw error;
      }
      return original.apply(this, args);
    };
    Object.defineProperty(patch.owner, patch.key, { value: guardedFn, writable: true, configurable: true, enumerable: own?.enumerable ?? false });
    return { patch, own };
  });
}

function uninstall(): void {
  for (const { patch, own } of installed ?? []) {
    if (own === undefined) delete (patch.owner as Record<string, unknown>)[patch.key];
    else Object.defineProperty(patch.owner, patch.key, own);
  }
  installed = undefined;
}

/**
 * Runs `fn` with the guard on, inside a fresh scope; returns what it returned and every forbidden
 * call it made. Guarded runs may overlap (the globals are restored when the last one ends).
 */
export async function runGuarded<T>(fn: () => Promise<T>): Promise<{ readonly value: T; readonly violations: readonly string[] }> {
  if (active++ === 0) install();
  const scope: GuardScope = { violations: [] };
  try {
    const value = await scopes.run(scope, fn);
    return { value, violations: scope.violations };
  } finally {
    if (--active === 0) uninstall();
  }
}
