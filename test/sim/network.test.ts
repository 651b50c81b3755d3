import { describe, expect, it } from 'vitest';
import { isUltraError } from '../../runtime/errors.ts';
import { NETWORK, numbers, recordingNetwork, tell } from './sim-harness.ts';

describe('simulated network', () => {
  it('delivers each envelope as a scheduler event, after a latency, in order, as a copy', async () => {
    const { scheduler, attach } = recordingNetwork();
    const a = attach('a');
    const b = attach('b');
    const payload = { list: [1, 2, 3] };
    for (let n = 0; n < 20; n++) a.transport.send('b', tell('b', n, payload));
    expect(b.received).toEqual([]);
    await scheduler.runUntilIdle();
    expect(numbers(b)).toEqual(Array.from({ length: 20 }, (_, n) => n));
    expect(b.received[0]!.at).toBeGreaterThanOrEqual(NETWORK.minLatencyMs / 2);
    const delivered = b.received[0]!.envelope;
    expect(delivered.k === 'tell' && (delivered.msg as { list: number[] }).list).not.toBe(payload.list);
    expect(scheduler.stats().eventsRun).toBe(20);
  });

  it('holds envelopes back through a partition shorter than the detection timeout, then delivers them in order', async () => {
    const { scheduler, network, attach } = recordingNetwork();
    const a = attach('a');
    const b = attach('b');
    network.block('a', 'b');
    network.block('b', 'a');
    for (let n = 0; n < 5; n++) a.transport.send('b', tell('b', n));
    await scheduler.advance(NETWORK.detectionTimeoutMs / 2);
    expect(b.received).toEqual([]);
    network.unblock('a', 'b');
    network.unblock('b', 'a');
    a.transport.send('b', tell('b', 5));
    await scheduler.runUntilIdle();
    expect(numbers(b)).toEqual([0, 1, 2, 3, 4, 5]);
    expect([...a.peerDowns, ...b.peerDowns]).toEqual([]);
  });

  it('resets a connection partitioned past the detection timeout: both ends hear peerDown, held envelopes are lost, sends refused until it heals', async () => {
    const { scheduler, network, counters, attach } = recordingNetwork();
    const a = attach('a');
    const b = attach('b');
    network.block('a', 'b');
    a.transport.send('b', tell('b', 0));
    await scheduler.advance(NETWORK.detectionTimeoutMs + 1);
    expect(a.peerDowns).toEqual([{ node: 'b', at: NETWORK.detectionTimeoutMs }]);
    expect(b.peerDowns).toEqual([{ node: 'a', at: NETWORK.detectionTimeoutMs }]);
    expect(a.transport.reaches('b')).toBe(false);
    expect(network.connectionResets('a', 'b')).toEqual([NETWORK.detectionTimeoutMs]);
    network.unblock('a', 'b');
    expect(a.transport.reaches('b')).toBe(true);
    a.transport.send('b', tell('b', 1));
    await scheduler.runUntilIdle();
    expect(numbers(b)).toEqual([1]);
    expect(counters.get('net.dropped-by-reset')).toBe(1);
  });

  it('reports a crashed peer one latency later when the path is open, and connects its next incarnation afresh', async () => {
    const { scheduler, network, attach } = recordingNetwork();
    const a = attach('a');
    attach('b');
    network.crash('b');
    await scheduler.runUntilIdle();
    expect(a.peerDowns.map((d) => d.node)).toEqual(['b']);
    expect(a.peerDowns[0]!.at).toBeLessThanOrEqual(1.5 * NETWORK.maxLatencyMs);
    const b2 = attach('b', 2);
    a.transport.send('b', tell('b', 7));
    await scheduler.runUntilIdle();
    expect(numbers(b2)).toEqual([7]);
  });

  it('notices a peer that restarted behind a short partition as soon as it is heard again', async () => {
    const { scheduler, network, attach } = recordingNetwork();
    const a = attach('a');
    attach('b');
    network.block('b', 'a');
    network.crash('b');
    attach('b', 2);
    await scheduler.advance(100);
    expect(a.peerDowns).toEqual([]);
    network.unblock('b', 'a');
    expect(a.peerDowns).toEqual([{ node: 'b', at: 100 }]);
  });

  it('makes a paused node wait for its deliveries, and a pause past the timeout look like a dead peer', async () => {
    const { scheduler, network, attach } = recordingNetwork();
    const a = attach('a');
    const b = attach('b');
    b.env.pause();
    network.pausedChanged('b');
    a.transport.send('b', tell('b', 1));
    await scheduler.advance(NETWORK.detectionTimeoutMs + 10);
    expect(b.received).toEqual([]);
    expect(a.peerDowns.map((d) => d.node)).toEqual(['b']);
    expect(b.peerDowns).toEqual([]);
    b.env.resume();
    network.pausedChanged('b');
    await scheduler.runUntilIdle();
    expect(numbers(b)).toEqual([1]);
    expect(b.peerDowns.map((d) => d.node)).toEqual(['a']);
  });

  it('loses, duplicates and reorders envelopes at the configured rates, and counts each', async () => {
    const { scheduler, network, counters, attach } = recordingNetwork(3);
    const a = attach('a');
    const b = attach('b');
    network.setRates({ loss: 0.1, duplicate: 0.1, reorder: 0.2 });
    for (let n = 0; n < 1_000; n++) a.transport.send('b', tell('b', n));
    await scheduler.runUntilIdle();
    const lost = counters.get('fault.loss');
    const duplicated = counters.get('fault.duplicate');
    expect(lost).toBeGreaterThan(50);
    expect(duplicated).toBeGreaterThan(50);
    expect(b.received.length).toBe(1_000 - lost + duplicated);
    const got = numbers(b);
    const inversions = got.filter((n, i) => i > 0 && n < got[i - 1]!).length;
    expect(counters.get('fault.reorder')).toBeGreaterThan(0);
    expect(inversions).toBeGreaterThan(0);
  });

  it('slows a link by its factor', async () => {
    const { scheduler, network, attach } = recordingNetwork();
    const a = attach('a');
    const b = attach('b');
    network.setSlow('a', 'b', 8);
    a.transport.send('b', tell('b', 0));
    await scheduler.runUntilIdle();
    expect(b.received[0]!.at).toBeGreaterThanOrEqual(8 * 0.5 * NETWORK.minLatencyMs);
    expect(b.received[0]!.at).toBeLessThanOrEqual(network.maxLatencyMs);
  });

  it('refuses a message that cannot cross a process boundary', () => {
    const { attach } = recordingNetwork();
    const a = attach('a');
    attach('b');
    let error: unknown;
    try {
      a.transport.send('b', tell('b', 0, { callback: () => {} }));
    } catch (caught) {
      error = caught;
    }
    expect(isUltraError(error, 'InvalidArgument')).toBe(true);
  });
});
