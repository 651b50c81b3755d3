// The Watch stream's progress notifications, fragmentation and half-close, seen on the wire by a
// bare gRPC client (etcdctl 3.4 has no flag for them), against a real single-voter chainfire.
import { describe, expect, it } from 'vitest';
import { withGrpcClient } from './grpc-client.ts';
import { EtcdTestServer, sleep, waitFor } from './etcdctl-harness.ts';

const b = (s: string) => Buffer.from(s);
type Wire = Record<string, any>;

const PROGRESS_MS = 150;
const LIMIT = 64 * 1024;

describe('chainfire watch streams', () => {
  const t = new EtcdTestServer({ progressNotifyMs: PROGRESS_MS, maxRequestBytes: LIMIT });
  const grpc = withGrpcClient(t);

  const isProgress = (r: Wire, id: string) => r['watch_id'] === id && r['events'].length === 0 && !r['created'] && !r['canceled'];

  it('sends progress notifications to progress_notify watches that got no events, at the current revision', async () => {
    const { call, responses } = grpc().watch();
    call.write({ create_request: { key: b('p/'), range_end: b('p0'), progress_notify: true } });
    call.write({ create_request: { key: b('q/'), range_end: b('q0') } });
    await waitFor(() => responses.filter((r) => r['created']).length === 2);
    const [notifying, silent] = responses.filter((r) => r['created']).map((r) => String(r['watch_id']));
    await waitFor(() => responses.some((r) => isProgress(r, notifying!)), 5000);
    // A write elsewhere moves the store on: the next notification reports the new revision, which
    // promises that every event of this watch up to it was sent.
    const put = await grpc().unary('KV', 'Put', { key: b('elsewhere'), value: b('x') });
    const revision = BigInt(put['header'].revision);
    await waitFor(() => responses.some((r) => isProgress(r, notifying!) && BigInt(r['header'].revision) >= revision), 5000);
    expect(responses.some((r) => isProgress(r, silent!))).toBe(false);
    // Progress notifications never come between a watch's events out of order.
    await grpc().unary('KV', 'Put', { key: b('p/1'), value: b('v') });
    await waitFor(() => responses.some((r) => r['watch_id'] === notifying && r['events'].length === 1));
    await sleep(3 * PROGRESS_MS);
    const afterEvent = responses.slice(responses.findIndex((r) => r['events'].length === 1));
    for (const r of afterEvent.filter((x) => isProgress(x, notifying!))) expect(BigInt(r['header'].revision)).toBeGreaterThanOrEqual(revision + 1n);
    call.end();
  });

  it('keeps watching after the client half-closes, as etcd does; a cancel ends it', async () => {
    const { call, responses } = grpc().watch();
    call.write({ create_request: { key: b('h/'), range_end: b('h0') } });
    await waitFor(() => responses.some((r) => r['created']));
    call.end();
    await sleep(50);
    await grpc().unary('KV', 'Put', { key: b('h/1'), value: b('after the half-close') });
    await waitFor(() => responses.some((r) => r['events'].length === 1));
    const ended = new Promise<unknown>((resolve) => call.on('status', resolve));
    call.cancel();
    expect(await ended).toMatchObject({ code: 1 });
  });

  it('answers a progress request for the whole stream with the current revision', async () => {
    const { call, responses } = grpc().watch();
    call.write({ create_request: { key: b('r/') } });
    await waitFor(() => responses.some((r) => r['created']));
    call.write({ progress_request: {} });
    await waitFor(() => responses.some((r) => r['watch_id'] === '-1'));
    expect(responses.find((r) => r['watch_id'] === '-1')!['header'].revision).toBe(String(t.store.revision));
    call.end();
  });

  it('splits a batch over the request limit into fragments when the watch asked for it', async () => {
    const start = t.store.revision + 1n;
    const big = 'x'.repeat(30_000);
    for (let i = 0; i < 5; i++) await grpc().unary('KV', 'Put', { key: b(`f/${i}`), value: b(big) });
    const fragmenting = grpc().watch();
    fragmenting.call.write({ create_request: { key: b('f/'), range_end: b('f0'), start_revision: String(start), fragment: true, prev_kv: true } });
    const whole = grpc().watch();
    whole.call.write({ create_request: { key: b('f/'), range_end: b('f0'), start_revision: String(start), prev_kv: true } });
    const events = (rs: Wire[]) => rs.flatMap((r) => r['events'] as Wire[]);
    await waitFor(() => events(fragmenting.responses).length === 5 && events(whole.responses).length === 5);
    const pieces = fragmenting.responses.filter((r) => r['events'].length > 0);
    // 5 × 30 kB in 64 KiB responses: two events per response, the last one not marked.
    expect(pieces.map((r) => [r['events'].length, r['fragment']])).toEqual([[2, true], [2, true], [1, false]]);
    expect(events(fragmenting.responses).map((e) => e['kv'].key.toString())).toEqual(['f/0', 'f/1', 'f/2', 'f/3', 'f/4']);
    expect(whole.responses.filter((r) => r['events'].length > 0).map((r) => [r['events'].length, r['fragment']])).toEqual([[5, false]]);

    // Live: one delete of all five, each event carrying its 30 kB prev_kv.
    await grpc().unary('KV', 'DeleteRange', { key: b('f/'), range_end: b('f0') });
    await waitFor(() => events(fragmenting.responses).length === 10 && events(whole.responses).length === 10);
    expect(fragmenting.responses.filter((r) => r['events'].length > 0).slice(3).map((r) => [r['events'].length, r['fragment']])).toEqual([[2, true], [2, true], [1, false]]);
    for (const r of fragmenting.responses) expect(r['events'].length === 0 || grpc().encodedWatchResponseSize(r) < LIMIT).toBe(true);
    fragmenting.call.end();
    whole.call.end();
  });
});
