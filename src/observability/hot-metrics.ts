import type { Registry } from 'prom-client';

/**
 * Counters and histograms for the per-request path. prom-client hashes the label object on
 * every `inc`/`observe`; here a caller resolves a series once (per route, at first use) and
 * then updates plain numbers. Exposition still goes through the prom-client registry: these
 * objects implement the registry's metric interface (`name`, `help`, `type`, `get`, `reset`), so
 * `/metrics` renders them with everything else, in the same text format.
 */

type Labels = Readonly<Record<string, string>>;

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

function seriesKey(labelNames: readonly string[], labels: Labels): string {
  let key = '';
  for (const name of labelNames) key += `${labels[name] ?? ''}\u0000`;
  return key;
}

/** Name, help, registration and the label-set → series map shared by both metric kinds. */
abstract class HotMetric<S extends { readonly labels: Labels }> {
  abstract readonly type: 'counter' | 'histogram';
  protected readonly all = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /** The series for these labels, created on first use: keep it and update it directly. */
  series(labels: Labels): S {
    const key = seriesKey(this.labelNames, labels);
    let s = this.all.get(key);
    if (s === undefined) {
      s = this.create({ ...labels });
      this.all.set(key, s);
    }
    return s;
  }

  protected abstract create(labels: Labels): S;
  protected abstract values(): MetricValue[];

  get(): { name: string; help: string; type: string; values: MetricValue[]; aggregator: string } {
    return { name: this.name, help: this.help, type: this.type, values: this.values(), aggregator: 'sum' };
  }

  reset(): void {
    this.all.clear();
  }
}

export class CounterSeries {
  value = 0;
  constructor(readonly labels: Labels) {}
  inc(by = 1): void {
    this.value += by;
  }
}

export class HotCounter extends HotMetric<CounterSeries> {
  readonly type = 'counter';

  protected create(labels: Labels): CounterSeries {
    return new CounterSeries(labels);
  }

  protected values(): MetricValue[] {
    const values: MetricValue[] = [];
    for (const s of this.all.values()) values.push({ value: s.value, labels: { ...s.labels } });
    return values;
  }
}

export class HistogramSeries {
  /** counts[i] = observations in (bounds[i-1], bounds[i]]; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export class HotHistogram extends HotMetric<HistogramSeries> {
  readonly type = 'histogram';

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
  }

  protected create(labels: Labels): HistogramSeries {
    return new HistogramSeries(labels, this.buckets);
  }

  protected values(): MetricValue[] {
    const values: MetricValue[] = [];
    for (const s of this.all.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += s.counts[i]!;
        const le = i < this.buckets.length ? this.buckets[i]! : '+Inf';
        values.push({ value: cumulative, labels: { le, ...s.labels }, metricName: `${this.name}_bucket` });
      }
      values.push({ value: s.sum, labels: { ...s.labels }, metricName: `${this.name}_sum` });
      values.push({ value: s.count, labels: { ...s.labels }, metricName: `${this.name}_count` });
    }
    return values;
  }
}
