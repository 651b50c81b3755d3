// Shared helpers for the chainfire core tests: text keys as bytes, and apply() unwrapped.
import { expect } from 'vitest';
import type { ApplyResult, Command, CommandResponses, CommandType } from '../../../actors/chainfire/core/commands.ts';
import type { MvccStore } from '../../../actors/chainfire/core/mvcc-store.ts';
import type { Event, KeyValue } from '../../../actors/chainfire/core/types.ts';

export const b = (text: string): Uint8Array => new TextEncoder().encode(text);
export const t = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** Applies a command that must succeed; returns its response and events. */
export function ok<C extends Command>(
  store: MvccStore,
  command: C,
): { response: CommandResponses[C['type']]; events: readonly Event[] } {
  const result: ApplyResult<C['type']> = store.apply(command);
  if (!result.ok) throw new Error(`expected success, got ${result.error.code}: ${result.error.message}`);
  return { response: result.response, events: result.events };
}

/** Applies a command that must fail with etcd reason `reason`, and checks it changed nothing. */
export function refused(store: MvccStore, command: Command, reason: string): void {
  const before = store.snapshot();
  const result = store.apply(command);
  expect(result.ok).toBe(false);
  if (!result.ok) expect(result.error.details?.['reason']).toBe(reason);
  if (reason !== 'no-space') expect(store.snapshot()).toEqual(before);
}

export function put(store: MvccStore, key: string, value: string, lease = 0n): bigint {
  return ok(store, { type: 'put', request: { key: b(key), value: b(value), lease } }).response.header.revision;
}

export function del(store: MvccStore, key: string, rangeEnd?: string): bigint {
  const request = rangeEnd === undefined ? { key: b(key) } : { key: b(key), range_end: b(rangeEnd) };
  return ok(store, { type: 'delete-range', request }).response.deleted;
}

/** Key → value text of a Range result. */
export function kvText(kvs: readonly KeyValue[]): Array<[string, string]> {
  return kvs.map((kv) => [t(kv.key), t(kv.value)]);
}
