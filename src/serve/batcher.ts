// A micro-batcher: requests that arrive close together share one predict() call per model.
//
// A job waits until one of these happens, then everything queued (up to maxBatch rows) runs as one batch:
//   - no other request is on its way (parsed, not yet queued): flush at once, so a lone request waits ~0;
//   - maxWaitMs has passed since the oldest queued job arrived;
//   - maxBatch rows are queued.
// Jobs that arrive while a batch is running (an async predictor) form the next batch as soon as it ends.
import { HttpError } from './errors.js';

export type PredictFn = (images: Float32Array, n: number) => Float32Array | Promise<Float32Array>;

export interface BatcherOptions {
  /** Longest time the oldest queued job waits for company (ms). */
  maxWaitMs?: number;
  /** Most images in one predict() call. */
  maxBatch?: number;
  /** Most images waiting; beyond this, new jobs are refused with a 503. */
  maxQueue?: number;
  /** How many requests are being parsed and will soon be queued; while above 0 a batch waits for them. */
  expecting?: () => number;
  /** Called after each batch with its size and how long predict() took. */
  onBatch?: (rows: number, seconds: number) => void;
  /** Input values per image and outputs per image. */
  inWidth?: number;
  outWidth?: number;
}

interface Job {
  x: Float32Array;
  n: number;
  at: number;
  signal?: AbortSignal;
  resolve: (y: Float32Array) => void;
  reject: (e: unknown) => void;
}

export class MicroBatcher {
  private readonly queue: Job[] = [];
  private queuedRows = 0;
  private running = false;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private readonly maxWaitMs: number;
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private readonly inWidth: number;
  private readonly outWidth: number;
  /** Batches run and images predicted, for tests and /metrics. */
  batches = 0;
  rows = 0;

  constructor(
    private readonly predict: PredictFn,
    private readonly opts: BatcherOptions = {},
  ) {
    this.maxWaitMs = opts.maxWaitMs ?? 1;
    this.maxBatch = opts.maxBatch ?? 256;
    this.maxQueue = opts.maxQueue ?? 4096;
    this.inWidth = opts.inWidth ?? 784;
    this.outWidth = opts.outWidth ?? 10;
  }

  get pending(): number {
    return this.queuedRows;
  }

  /** Queues n images (n × inWidth values); resolves to their n × outWidth outputs. */
  submit(x: Float32Array, n: number, signal?: AbortSignal): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new HttpError(503, 'shutting_down', 'the server is shutting down'));
    if (x.length !== n * this.inWidth)
      return Promise.reject(new Error(`expected ${n * this.inWidth} values, got ${x.length}`));
    if (this.queuedRows > 0 && this.queuedRows + n > this.maxQueue)
      return Promise.reject(
        new HttpError(503, 'overloaded', `too many images waiting (${this.queuedRows}); try again shortly`),
      );
    return new Promise((resolve, reject) => {
      this.queue.push({ x, n, at: performance.now(), signal, resolve, reject });
      this.queuedRows += n;
      this.schedule();
    });
  }

  /** Re-checks whether to flush now: call when the number of expected requests drops. */
  poke(): void {
    if (this.queue.length > 0) this.schedule();
  }

  /** Refuses new jobs and fails queued ones; a running batch finishes. */
  close(): void {
    this.closed = true;
    this.clearTimers();
    for (const j of this.queue.splice(0)) j.reject(new HttpError(503, 'shutting_down', 'the server is shutting down'));
    this.queuedRows = 0;
  }

  private schedule(): void {
    if (this.running || this.closed) return;
    const expecting = this.opts.expecting?.() ?? 0;
    const waited = performance.now() - this.queue[0].at;
    if (this.queuedRows >= this.maxBatch || expecting <= 0 || waited >= this.maxWaitMs) {
      this.flushSoon();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, this.maxWaitMs - waited);
    }
  }

  private flushSoon(): void {
    if (this.immediate) return;
    this.immediate = setImmediate(() => {
      this.immediate = null;
      this.flush();
    });
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
  }

  private take(): Job[] {
    const jobs: Job[] = [];
    let rows = 0;
    while (this.queue.length > 0) {
      const j = this.queue[0];
      if (j.signal?.aborted) {
        this.queue.shift();
        this.queuedRows -= j.n;
        j.reject(j.signal.reason ?? new Error('aborted'));
        continue;
      }
      if (jobs.length > 0 && rows + j.n > this.maxBatch) break;
      this.queue.shift();
      this.queuedRows -= j.n;
      jobs.push(j);
      rows += j.n;
    }
    return jobs;
  }

  private flush(): void {
    this.clearTimers();
    if (this.running || this.closed) return;
    const jobs = this.take();
    if (jobs.length === 0) return;
    const rows = jobs.reduce((s, j) => s + j.n, 0);
    let x: Float32Array;
    if (jobs.length === 1) x = jobs[0].x;
    else {
      x = new Float32Array(rows * this.inWidth);
      let off = 0;
      for (const j of jobs) {
        x.set(j.x, off);
        off += j.x.length;
      }
    }
    const started = performance.now();
    const done = (y: Float32Array) => {
      this.finish(rows, started);
      if (y.length !== rows * this.outWidth) {
        const e = new Error(`predict returned ${y.length} values for ${rows} images`);
        for (const j of jobs) j.reject(e);
        return;
      }
      let off = 0;
      for (const j of jobs) {
        j.resolve(y.slice(off * this.outWidth, (off + j.n) * this.outWidth));
        off += j.n;
      }
    };
    const fail = (e: unknown) => {
      this.finish(rows, started);
      for (const j of jobs) j.reject(e);
    };
    this.running = true;
    let out: Float32Array | Promise<Float32Array>;
    try {
      out = this.predict(x, rows);
    } catch (e) {
      fail(e);
      return;
    }
    if (typeof (out as Promise<Float32Array>).then === 'function') (out as Promise<Float32Array>).then(done, fail);
    else done(out as Float32Array);
  }

  private finish(rows: number, started: number): void {
    this.running = false;
    this.batches++;
    this.rows += rows;
    this.opts.onBatch?.(rows, (performance.now() - started) / 1000);
    // Jobs that came in meanwhile have waited a whole batch already: run them next.
    if (this.queue.length > 0 && !this.closed) this.flushSoon();
  }
}
