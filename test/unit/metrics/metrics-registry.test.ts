import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MetricsRegistry } from '../../../runtime/metrics/metrics-registry.ts';
import { codeOf } from '../../support/error-code.ts';
import { parseExposition } from './exposition-parser.ts';


describe('MetricsRegistry exposition', () => {
  it('writes HELP, TYPE and samples in a fixed order', () => {
    const registry = new MetricsRegistry();
    const requests = registry.counter({
      name: 'http_requests',
      help: 'Requests served.',
      labelNames: ['method', 'code'],
    });
    const up = registry.gauge({ name: 'up', help: 'Whether the node is up.' });
    requests.labels({ method: 'post', code: '200' }).inc();
    requests.labels({ method: 'get', code: '500' }).inc(2);
    requests.labels({ method: 'get', code: '200' }).inc(3);
    up.set(1);
    expect(registry.expose()).toBe(
      [
        '# HELP http_requests Requests served.',
        '# TYPE http_requests counter',
        'http_requests{method="get",code="200"} 3',
        'http_requests{method="get",code="500"} 2',
        'http_requests{method="post",code="200"} 1',
        '# HELP up Whether the node is up.',
        '# TYPE up gauge',
        'up 1',
        '',
      ].join('\n'),
    );
  });

  it('escapes label values and help so they parse back unchanged', () => {
    // Mostly the characters the format gives meaning to, plus any code point (lone surrogates too).
    const anyChar = fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c));
    const special = fc.constantFrom('\\', '"', '\n', '\r', '{', '}', ',', '=', ' ', '#');
    const tricky = fc.string({ unit: fc.oneof(special, anyChar) });
    fc.assert(
      fc.property(tricky, fc.uniqueArray(tricky, { minLength: 1, maxLength: 5 }), (help, values) => {
        const registry = new MetricsRegistry();
        const counter = registry.counter({ name: 'c', help, labelNames: ['v'] });
        values.forEach((v, i) => counter.labels({ v }).inc(i));
        const [family, ...rest] = parseExposition(registry.expose());
        expect(rest).toEqual([]);
        expect(family?.help).toBe(help);
        const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        expect(family?.samples.map((s) => s.labels['v'])).toEqual(sorted);
        expect(family?.samples.map((s) => s.value).sort()).toEqual(values.map((_, i) => i).sort());
      }),
    );
  });

  it('escapes backslash, quote and newline exactly', () => {
    const registry = new MetricsRegistry();
    registry.counter({ name: 'c', help: 'a\\b\nc "d"', labelNames: ['p'] }).labels({ p: 'x\\y"z\nw' }).inc();
    expect(registry.expose()).toBe('# HELP c a\\\\b\\nc "d"\n# TYPE c counter\nc{p="x\\\\y\\"z\\nw"} 1\n');
  });

  it('writes special values as Prometheus spells them', () => {
    const registry = new MetricsRegistry();
    const g = registry.gauge({ name: 'g', help: 'h', labelNames: ['k'] });
    g.labels({ k: 'a' }).set(Infinity);
    g.labels({ k: 'b' }).set(-Infinity);
    g.labels({ k: 'c' }).set(Number.NaN);
    g.labels({ k: 'd' }).set(1e-7);
    const values = registry.expose().split('\n').slice(2, 6).map((line) => line.split(' ')[1]);
    expect(values).toEqual(['+Inf', '-Inf', 'NaN', '1e-7']);
  });

  it('is empty with no metrics, and lists a labelled metric with no series as just HELP and TYPE', () => {
    const registry = new MetricsRegistry();
    expect(registry.expose()).toBe('');
    registry.counter({ name: 'c', help: 'h', labelNames: ['k'] });
    expect(registry.expose()).toBe('# HELP c h\n# TYPE c counter\n');
  });
});

describe('counters and gauges', () => {
  it('only lets counters go up', () => {
    const counter = new MetricsRegistry().counter({ name: 'c', help: 'h' });
    counter.inc();
    counter.inc(2.5);
    counter.inc(0);
    expect(counter.get()).toBe(3.5);
    for (const amount of [-1, Number.NaN, Infinity]) expect(codeOf(() => counter.inc(amount))).toBe('InvalidArgument');
    expect(counter.get()).toBe(3.5);
  });

  it('sets, raises and lowers gauges', () => {
    const gauge = new MetricsRegistry().gauge({ name: 'g', help: 'h', labelNames: ['q'] });
    const depth = gauge.labels({ q: 'a' });
    depth.set(10);
    depth.inc();
    depth.dec(4);
    expect(depth.get()).toBe(7);
    expect(gauge.labels({ q: 'a' })).toBe(depth);
  });

  it('runs a gauge collect callback at every scrape', () => {
    const registry = new MetricsRegistry();
    let queued = 3;
    registry.gauge({ name: 'mailbox_depth', help: 'h', collect: (g) => g.set(queued) });
    expect(parseExposition(registry.expose())[0]?.samples[0]?.value).toBe(3);
    queued = 8;
    expect(parseExposition(registry.expose())[0]?.samples[0]?.value).toBe(8);
  });

  it('checks label sets', () => {
    const counter = new MetricsRegistry().counter({ name: 'c', help: 'h', labelNames: ['a', 'b'] });
    expect(codeOf(() => counter.labels({ a: 'x' } as never))).toBe('InvalidArgument');
    expect(codeOf(() => counter.labels({ a: 'x', b: 'y', c: 'z' } as never))).toBe('InvalidArgument');
    expect(codeOf(() => counter.labels({ a: 'x', b: 1 } as never))).toBe('InvalidArgument');
    expect(codeOf(() => counter.inc())).toBe('InvalidArgument');
  });

  it('bounds label combinations per metric', () => {
    const counter = new MetricsRegistry().counter({ name: 'c', help: 'h', labelNames: ['k'], maxSeries: 3 });
    for (const k of ['a', 'b', 'c']) counter.labels({ k }).inc();
    expect(codeOf(() => counter.labels({ k: 'd' }))).toBe('ResourceExhausted');
    counter.labels({ k: 'a' }).inc();
    expect(counter.labels({ k: 'a' }).get()).toBe(2);
    expect(codeOf(() => new MetricsRegistry().counter({ name: 'c', help: 'h', maxSeries: 0 }))).toBe('InvalidArgument');
  });
});

describe('histograms', () => {
  it('counts observations into cumulative buckets with sum and count', () => {
    const registry = new MetricsRegistry();
    const latency = registry.histogram({
      name: 'latency_seconds',
      help: 'h',
      labelNames: ['op'],
      buckets: [0.1, 1, 10],
    });
    for (const v of [0.05, 0.1, 0.5, 2, 20]) latency.labels({ op: 'get' }).observe(v);
    expect(registry.expose()).toBe(
      [
        '# HELP latency_seconds h',
        '# TYPE latency_seconds histogram',
        'latency_seconds_bucket{op="get",le="0.1"} 2',
        'latency_seconds_bucket{op="get",le="1"} 3',
        'latency_seconds_bucket{op="get",le="10"} 4',
        'latency_seconds_bucket{op="get",le="+Inf"} 5',
        'latency_seconds_sum{op="get"} 22.65',
        'latency_seconds_count{op="get"} 5',
        '',
      ].join('\n'),
    );
  });

  it('keeps every bucket equal to the observations at or under its bound', () => {
    const bounds = fc
      .uniqueArray(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { maxLength: 8 })
      .map((b) => b.sort((x, y) => x - y));
    const observations = fc.array(fc.double({ noNaN: true, min: -2e6, max: 2e6 }), { maxLength: 50 });
    fc.assert(
      fc.property(bounds, observations, (buckets, values) => {
        fc.pre(buckets.every((b, i) => i === 0 || b > buckets[i - 1]!));
        const registry = new MetricsRegistry();
        const histogram = registry.histogram({ name: 'h', help: 'h', buckets });
        values.forEach((v) => histogram.observe(v));
        const samples = parseExposition(registry.expose())[0]!.samples;
        const bucketSamples = samples.filter((s) => s.name === 'h_bucket');
        expect(bucketSamples.map((s) => s.labels['le'])).toEqual([...buckets.map(String), '+Inf']);
        bucketSamples.forEach((s, i) => {
          const bound = i < buckets.length ? buckets[i]! : Infinity;
          expect(s.value).toBe(values.filter((v) => v <= bound).length);
        });
        expect(samples.find((s) => s.name === 'h_count')?.value).toBe(values.length);
        expect(samples.find((s) => s.name === 'h_sum')?.value).toBe(values.reduce((sum, v) => sum + v, 0));
      }),
    );
  });

  it('starts with default buckets and zero counts', () => {
    const registry = new MetricsRegistry();
    registry.histogram({ name: 'h', help: 'h' });
    const samples = parseExposition(registry.expose())[0]!.samples;
    expect(samples.filter((s) => s.name === 'h_bucket').map((s) => s.labels['le'])).toEqual(
      ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'],
    );
    expect(samples.every((s) => s.value === 0)).toBe(true);
  });

  it('rejects NaN observations and bad buckets', () => {
    const registry = new MetricsRegistry();
    expect(codeOf(() => registry.histogram({ name: 'h', help: 'h' }).observe(Number.NaN))).toBe('InvalidArgument');
    for (const buckets of [[1, 1], [2, 1], [1, Infinity], [Number.NaN]]) {
      expect(codeOf(() => registry.histogram({ name: 'h2', help: 'h', buckets }))).toBe('InvalidArgument');
    }
  });
});

describe('registration', () => {
  it('validates metric and label names', () => {
    const registry = new MetricsRegistry();
    for (const name of ['', '1abc', 'a-b', 'a b', 'é']) {
      expect(codeOf(() => registry.counter({ name, help: 'h' }))).toBe('InvalidArgument');
    }
    for (const label of ['', '1a', 'a:b', '__reserved', 'a-b']) {
      expect(codeOf(() => registry.counter({ name: 'ok', help: 'h', labelNames: [label] }))).toBe('InvalidArgument');
    }
    expect(codeOf(() => registry.counter({ name: 'ok', help: 'h', labelNames: ['a', 'a'] }))).toBe('InvalidArgument');
    expect(codeOf(() => registry.histogram({ name: 'ok', help: 'h', labelNames: ['le'] }))).toBe('InvalidArgument');
    const ok = registry.counter({ name: 'ns:sub_total', help: 'h', labelNames: ['_x', 'le'] });
    expect(ok.definition.name).toBe('ns:sub_total');
  });

  it('returns the existing metric for the same definition', () => {
    const registry = new MetricsRegistry();
    const a = registry.counter({ name: 'c', help: 'h', labelNames: ['k'] });
    expect(registry.counter({ name: 'c', help: 'h', labelNames: ['k'] })).toBe(a);
    const collect = () => undefined;
    const g = registry.gauge({ name: 'g', help: 'h', collect });
    expect(registry.gauge({ name: 'g', help: 'h', collect })).toBe(g);
    const h = registry.histogram({ name: 'h', help: 'h', buckets: [1, 2] });
    expect(registry.histogram({ name: 'h', help: 'h', buckets: [1, 2] })).toBe(h);
  });

  it('refuses a different definition under a taken name, or a clashing series name', () => {
    const registry = new MetricsRegistry();
    registry.counter({ name: 'c', help: 'h', labelNames: ['k'] });
    registry.histogram({ name: 'h', help: 'h', buckets: [1] });
    expect(codeOf(() => registry.gauge({ name: 'c', help: 'h', labelNames: ['k'] }))).toBe('AlreadyExists');
    expect(codeOf(() => registry.counter({ name: 'c', help: 'h', labelNames: ['j'] }))).toBe('AlreadyExists');
    expect(codeOf(() => registry.counter({ name: 'c', help: 'other', labelNames: ['k'] }))).toBe('AlreadyExists');
    expect(codeOf(() => registry.histogram({ name: 'h', help: 'h', buckets: [2] }))).toBe('AlreadyExists');
    expect(codeOf(() => registry.gauge({ name: 'h_sum', help: 'h' }))).toBe('AlreadyExists');
    registry.counter({ name: 'x_count', help: 'h' });
    expect(codeOf(() => registry.histogram({ name: 'x', help: 'h' }))).toBe('AlreadyExists');
  });
});
