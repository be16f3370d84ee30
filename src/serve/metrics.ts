// A small Prometheus text-format registry: request counts by route and status, a latency
// histogram per route, inference batch sizes and times, and process memory.

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labelText = (labels: Record<string, string>) => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
};
const num = (v: number) => (Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN');

export class Counter {
  private readonly values = new Map<string, { labels: Record<string, string>; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Record<string, string> = {}, by = 1): void {
    const key = labelText(labels);
    const v = this.values.get(key);
    if (v) v.value += by;
    else this.values.set(key, { labels, value: by });
  }
  get(labels: Record<string, string> = {}): number {
    return this.values.get(labelText(labels))?.value ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${labelText(labels)} ${num(value)}`);
    return lines.join('\n');
  }
}

export class Histogram {
  private readonly series = new Map<
    string,
    { labels: Record<string, string>; counts: number[]; sum: number; count: number }
  >();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}
  observe(value: number, labels: Record<string, string> = {}): void {
    const key = labelText(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels, counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }
  count(labels: Record<string, string> = {}): number {
    return this.series.get(labelText(labels))?.count ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const { labels, counts, sum, count } of this.series.values()) {
      this.buckets.forEach((b, i) =>
        lines.push(`${this.name}_bucket${labelText({ ...labels, le: num(b) })} ${counts[i]}`),
      );
      lines.push(`${this.name}_bucket${labelText({ ...labels, le: '+Inf' })} ${count}`);
      lines.push(`${this.name}_sum${labelText(labels)} ${num(sum)}`);
      lines.push(`${this.name}_count${labelText(labels)} ${count}`);
    }
    return lines.join('\n');
  }
}

export class Gauge {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}
  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${num(this.read())}`].join(
      '\n',
    );
  }
}

export const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

export class ServerMetrics {
  readonly requests = new Counter('fmnist_http_requests_total', 'HTTP requests answered, by method, route and status.');
  readonly latency = new Histogram(
    'fmnist_http_request_duration_seconds',
    'Time from receiving a request to sending its answer, by route.',
    LATENCY_BUCKETS,
  );
  readonly batchSize = new Histogram(
    'fmnist_inference_batch_size',
    'Images per predict() call, by model.',
    BATCH_BUCKETS,
  );
  readonly inference = new Histogram(
    'fmnist_inference_duration_seconds',
    'Time spent in one predict() call, by model.',
    LATENCY_BUCKETS,
  );
  readonly images = new Counter('fmnist_images_predicted_total', 'Images classified, by model.');
  private readonly gauges: Gauge[];

  constructor(extra: Gauge[] = []) {
    const started = Date.now();
    this.gauges = [
      new Gauge('process_resident_memory_bytes', 'Resident set size in bytes.', () => process.memoryUsage.rss()),
      new Gauge('nodejs_heap_used_bytes', 'V8 heap in use, in bytes.', () => process.memoryUsage().heapUsed),
      new Gauge('process_uptime_seconds', 'Seconds since the server started.', () => (Date.now() - started) / 1000),
      ...extra,
    ];
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.latency.observe(seconds, { route });
  }

  observeBatch(model: string, rows: number, seconds: number): void {
    this.batchSize.observe(rows, { model });
    this.inference.observe(seconds, { model });
    this.images.inc({ model }, rows);
  }

  render(): string {
    return (
      [this.requests, this.latency, this.batchSize, this.inference, this.images, ...this.gauges]
        .map((m) => m.render())
        .join('\n') + '\n'
    );
  }
}
