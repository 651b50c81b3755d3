// The Replica's applied index follows snapshots as well as commands, so reads waiting for an index
// that a snapshot covers are released (a replica restarted from a snapshot must not stall reads).
import { describe, expect, it } from 'vitest';
import { encodeCommand, Replica } from '../../../actors/chainfire/replica.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('Replica', () => {
  it('counts a restored snapshot as applied and wakes reads waiting for it', async () => {
    const source = new Replica();
    const sm = source.stateMachine();
    for (let i = 1; i <= 5; i++) sm.apply(encodeCommand({ type: 'put', request: { key: bytes(`k${i}`), value: bytes('v') } }), i);
    const snapshot = sm.snapshot();

    const restarted = new Replica();
    const restored = restarted.stateMachine();
    let released = false;
    const waiting = restarted.appliedUpTo(5).then(() => (released = true));
    restored.restore(snapshot, 5);
    await waiting;
    expect(released).toBe(true);
    expect(restarted.applied).toBe(5);
    expect(restarted.store.range({ key: bytes('k3') }).kvs).toHaveLength(1);
  });
});
