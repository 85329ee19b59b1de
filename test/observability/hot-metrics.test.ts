import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotCounter, HotHistogram } from '../../src/observability/hot-metrics.js';

/** The hot-path metrics must expose exactly what prom-client's own types would. */
describe('hot metrics', () => {
  const buckets = [0.001, 0.01, 0.1, 1];
  const observations = [0, 0.0005, 0.001, 0.0011, 0.01, 0.05, 0.1, 0.5, 1, 2, 30];

  it('a histogram renders the same text as prom-client for the same observations', async () => {
    const a = new Registry();
    const b = new Registry();
    const reference = new Histogram({ name: 'h', help: 'help', labelNames: ['route', 'upstream'], buckets, registers: [a] });
    const hot = new HotHistogram('h', 'help', ['route', 'upstream'], buckets, b);
    for (const route of ['r1', 'r2']) {
      const series = hot.series({ route, upstream: 'u' });
      for (const v of observations) {
        reference.observe({ route, upstream: 'u' }, v);
        series.observe(v);
      }
    }
    expect(await b.metrics()).toBe(await a.metrics());
  });

  it('a counter renders the same text as prom-client, and series are reused', async () => {
    const a = new Registry();
    const b = new Registry();
    const reference = new Counter({ name: 'c_total', help: 'help', labelNames: ['route', 'method'], registers: [a] });
    const hot = new HotCounter('c_total', 'help', ['route', 'method'], b);
    for (const [route, method, n] of [['r1', 'GET', 3], ['r1', 'POST', 1], ['r2', 'GET', 2]] as const) {
      for (let i = 0; i < n; i++) {
        reference.inc({ route, method });
        hot.series({ route, method }).inc();
      }
    }
    expect(hot.series({ route: 'r1', method: 'GET' })).toBe(hot.series({ route: 'r1', method: 'GET' }));
    expect(await b.metrics()).toBe(await a.metrics());
  });
});
