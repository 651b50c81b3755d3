// Builds KV histories that are linearizable by construction: a correct register executes the ops
// one at a time at increasing linearization points, and each op's [call, ret] is stretched around
// its point, so concurrent clients overlap the way real ones do.

import fc from 'fast-check';
import { HistoryRecorder } from '../../../runtime/linearizability/index.ts';
import type { KvInput, KvOperation, KvOutput } from '../../../runtime/linearizability/index.ts';

/**
 * What became of an op: `ok` took effect and returned, `info` took effect but the client gave up,
 * `lost` was given up on and never took effect, `fail` never took effect and said so.
 */
export type Fate = 'ok' | 'info' | 'lost' | 'fail';

export interface PlannedOp {
  readonly kind: 'get' | 'put' | 'cas' | 'delete';
  readonly key: number;
  readonly client: number;
  /** How long before / after its linearization point the op was invoked / returned. */
  readonly lead: number;
  readonly lag: number;
  readonly fate: Fate;
  /** For cas: whether it expects the current value. */
  readonly hit: boolean;
}

export const SPACING = 10;

export function plannedOp(options: { keys: number; clients: number; maxStretch: number; fates: readonly Fate[] }): fc.Arbitrary<PlannedOp> {
  return fc.record({
    kind: fc.constantFrom('get', 'get', 'put', 'put', 'cas', 'delete'),
    key: fc.nat(options.keys - 1),
    client: fc.nat(options.clients - 1),
    lead: fc.nat(options.maxStretch),
    lag: fc.nat(options.maxStretch),
    fate: fc.constantFrom(...options.fates),
    hit: fc.boolean(),
  });
}

export function buildHistory(plan: readonly PlannedOp[]): KvOperation[] {
  const recorder = new HistoryRecorder<KvInput, KvOutput>();
  const values = new Map<string, string>();
  const busyUntil: number[] = [];
  plan.forEach((p, i) => {
    const key = `k${p.key}`;
    const point = SPACING * (i + 1);
    const call = point - p.lead;
    const ret = point + p.lag;
    const current = values.get(key) ?? null;
    let input: KvInput;
    let output: KvOutput;
    switch (p.kind) {
      case 'get':
        input = { op: 'get', key };
        output = { value: current };
        break;
      case 'put':
        input = { op: 'put', key, value: `v${i}` };
        output = {};
        break;
      case 'delete':
        input = { op: 'delete', key };
        output = {};
        break;
      case 'cas': {
        const expected = p.hit ? current : current === null ? 'nope' : null;
        input = { op: 'cas', key, expected, value: `v${i}` };
        output = { ok: p.hit };
        break;
      }
    }
    if (p.fate === 'ok' || p.fate === 'info') {
      if (input.op === 'put' || (input.op === 'cas' && p.hit)) values.set(key, input.value);
      if (input.op === 'delete') values.delete(key);
    }
    // A client runs one op at a time; if the planned one is busy, another (or a new one) steps in.
    let client = p.client;
    while ((busyUntil[client] ?? -Infinity) >= call) client++;
    busyUntil[client] = p.fate === 'ok' || p.fate === 'fail' ? ret : Infinity;
    const id = recorder.invoke(client, input, call);
    if (p.fate === 'ok') recorder.ok(id, output, ret);
    else if (p.fate === 'fail') recorder.fail(id, ret);
    else recorder.info(id, ret);
  });
  return recorder.operations();
}
