// The phi-accrual failure detector core and the redial backoff: pure functions of the times and
// random numbers they are given.
import { describe, expect, it } from 'vitest';
import { backoffDelayMs, checkBackoffOptions } from '../../transports/libp2p/backoff.ts';
import { PhiAccrualFailureDetector, type PhiAccrualOptions } from '../../transports/libp2p/failure-detector.ts';

const options: PhiAccrualOptions = {
  threshold: 8,
  maxSampleSize: 100,
  minStdDeviationMs: 10,
  acceptableHeartbeatPauseMs: 0,
  firstHeartbeatEstimateMs: 100,
};

/** A detector that has seen heartbeats every `intervalMs` up to time `untilMs`. */
function regular(intervalMs: number, untilMs: number, o: PhiAccrualOptions = options): PhiAccrualFailureDetector {
  const detector = new PhiAccrualFailureDetector(o);
  for (let t = 0; t <= untilMs; t += intervalMs) detector.heartbeat(t);
  return detector;
}

describe('phi-accrual failure detector', () => {
  it('has no suspicion before the first heartbeat', () => {
    const detector = new PhiAccrualFailureDetector(options);
    expect(detector.phi(1_000_000)).toBe(0);
    expect(detector.suspects(1_000_000)).toBe(false);
  });

  it('rises monotonically with silence and crosses the threshold soon after a missed beat', () => {
    const detector = regular(100, 10_000);
    const phis = [10_010, 10_050, 10_100, 10_130, 10_160, 10_200, 10_400].map((t) => detector.phi(t));
    for (let i = 1; i < phis.length; i++) expect(phis[i]).toBeGreaterThan(phis[i - 1]!);
    expect(detector.suspects(10_100)).toBe(false);
    // With a 10 ms deviation floor, 60 ms late is six deviations: far past phi 8.
    expect(detector.suspects(10_160)).toBe(true);
    expect(detector.phi(20_000)).toBe(Infinity);
  });

  it('forgives up to the acceptable pause', () => {
    const lenient = regular(100, 10_000, { ...options, acceptableHeartbeatPauseMs: 500 });
    expect(lenient.suspects(10_500)).toBe(false);
    expect(lenient.suspects(10_700)).toBe(true);
  });

  it('judges an irregular peer less harshly than a regular one', () => {
    const steady = regular(100, 10_000);
    const jittery = new PhiAccrualFailureDetector(options);
    let t = 0;
    for (let i = 0; i < 100; i++) jittery.heartbeat((t += i % 2 === 0 ? 40 : 160));
    // Same mean interval (100 ms); 160 ms of silence is unremarkable only for the jittery one.
    expect(steady.phi(10_160)).toBeGreaterThan(8);
    expect(jittery.phi(t + 160)).toBeLessThan(1);
  });

  it('does not learn from the gap that ends a suspected pause', () => {
    const detector = regular(100, 10_000);
    expect(detector.suspects(15_000)).toBe(true);
    detector.heartbeat(15_000);
    // Still expects 100 ms beats: recording the 5 s gap would have made it tolerate long pauses.
    expect(detector.suspects(15_160)).toBe(true);
    expect(detector.suspects(15_090)).toBe(false);
  });

  it('counts other traffic as a sign of life without letting it shape the rhythm', () => {
    const detector = regular(100, 10_000);
    // Heartbeats stuck behind data: the data keeps arriving, so no suspicion.
    for (let t = 10_010; t <= 12_000; t += 10) detector.signOfLife(t);
    expect(detector.suspects(12_050)).toBe(false);
    // Silence counts from the last arrival of anything, against the heartbeat rhythm (100 ms).
    expect(detector.suspects(12_160)).toBe(true);
    expect(new PhiAccrualFailureDetector(options).phi(0)).toBe(0);
    const unseeded = new PhiAccrualFailureDetector(options);
    unseeded.signOfLife(0);
    expect(unseeded.phi(1_000_000)).toBe(0);
  });

  it('keeps only the most recent maxSampleSize intervals', () => {
    const detector = new PhiAccrualFailureDetector({ ...options, maxSampleSize: 10 });
    let t = 0;
    // Slow beats first, then fast ones that push them (and the first-heartbeat seed) out.
    for (let i = 0; i < 10; i++) detector.heartbeat((t += 1_000));
    for (let i = 0; i < 10; i++) detector.heartbeat((t += 100));
    expect(detector.suspects(t + 200)).toBe(true);
  });

  it('seeds its history from the first-heartbeat estimate', () => {
    const detector = new PhiAccrualFailureDetector({ ...options, firstHeartbeatEstimateMs: 1_000 });
    detector.heartbeat(0);
    expect(detector.suspects(1_000)).toBe(false);
    expect(detector.suspects(3_000)).toBe(true);
  });

  it('rejects nonsensical options', () => {
    expect(() => new PhiAccrualFailureDetector({ ...options, threshold: 0 })).toThrow(/threshold/);
    expect(() => new PhiAccrualFailureDetector({ ...options, maxSampleSize: 1 })).toThrow(/maxSampleSize/);
    expect(() => new PhiAccrualFailureDetector({ ...options, minStdDeviationMs: 0 })).toThrow(/minStdDeviationMs/);
    expect(() => new PhiAccrualFailureDetector({ ...options, acceptableHeartbeatPauseMs: -1 })).toThrow(/acceptableHeartbeatPauseMs/);
    expect(() => new PhiAccrualFailureDetector({ ...options, firstHeartbeatEstimateMs: Number.NaN })).toThrow(/firstHeartbeatEstimateMs/);
  });
});

describe('redial backoff', () => {
  const backoff = { initialDelayMs: 100, maxDelayMs: 5_000 };

  it('doubles per attempt up to the cap, jittered within the upper half', () => {
    expect(backoffDelayMs(0, backoff, () => 0)).toBe(50);
    expect(backoffDelayMs(0, backoff, () => 0.999_999)).toBeCloseTo(100, 3);
    expect(backoffDelayMs(3, backoff, () => 0.5)).toBe(600);
    expect(backoffDelayMs(10, backoff, () => 0)).toBe(2_500);
    expect(backoffDelayMs(1_000, backoff, () => 0.999_999)).toBeCloseTo(5_000, 1);
  });

  it('rejects bad attempts and options', () => {
    expect(() => backoffDelayMs(-1, backoff, () => 0)).toThrow(/attempt/);
    expect(() => checkBackoffOptions({ initialDelayMs: 0, maxDelayMs: 10 })).toThrow(/initialDelayMs/);
    expect(() => checkBackoffOptions({ initialDelayMs: 100, maxDelayMs: 10 })).toThrow(/maxDelayMs/);
  });
});
