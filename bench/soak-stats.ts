// bench/soak.ts's arithmetic, apart so that the tests can check it: least-squares slopes over the samples after a
// warm-up, and the flat / GROWING verdicts against printed bounds.

/** One reading of the process: taken by the soak's timer, and at the end of every training epoch. */
export interface Sample {
  /** Seconds since the phase began. */
  t: number;
  rssMB: number;
  /** src/torch's liveTensors(): Tensors made and not disposed. */
  torchTensors: number;
  /** tf.memory().numTensors, where the phase uses tfjs (Keras); null otherwise. */
  tfTensors: number | null;
  /** Training: epochs done, with the fraction of the current one (1.5 = half-way through epoch 2). */
  epoch?: number;
  /** Serving: requests answered so far. */
  requests?: number;
}

export interface Bounds {
  /** RSS is flat when |slope| < this many MB per minute. */
  rssMBPerMinute: number;
  /** A tensor count is flat when |slope| <= this many tensors per minute (0: not one more). */
  tensorsPerMinute: number;
}

export interface Fit {
  slope: number;
  intercept: number;
}

/** The least-squares line y = intercept + slope * x; null with fewer than 3 points or no spread in x. */
export function leastSquares(xs: readonly number[], ys: readonly number[]): Fit | null {
  const n = xs.length;
  if (n !== ys.length) throw new Error(`leastSquares: ${n} x values but ${ys.length} y values`);
  if (n < 3) return null;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  if (!(sxx > 0)) return null;
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

/** 'falling' (a slope below -bound: memory handed back, as malloc_trim does after a peak) is no leak. */
export type Verdict = 'flat' | 'GROWING' | 'falling' | 'too few samples';

export interface SeriesStats {
  first: number;
  /** The first value in the window (after the warm-up). */
  windowStart: number | null;
  last: number;
  max: number;
  /** Per minute over the window; null when the window has too few samples. */
  perMinute: number | null;
  /** Training only: per epoch over the window. */
  perEpoch?: number | null;
  /** The line over the window, against minutes (for the plot). */
  fit: Fit | null;
  verdict: Verdict;
  bound: string;
}

export interface Window {
  /** The samples the slopes are fitted to. */
  samples: Sample[];
  /** How they were chosen, in words. */
  rule: string;
}

/**
 * The samples after the warm-up. Training: those after the first epoch (when there are 2 or more) and up to the
 * last training step (`until`, seconds), so the final pass over the test set is left out. Otherwise: those after
 * the first 10% of the phase's time.
 */
export function warmWindow(samples: readonly Sample[], opts: { epochs?: number; until?: number | null } = {}): Window {
  const until = opts.until ?? Infinity;
  if (opts.epochs !== undefined && opts.epochs >= 2)
    return {
      samples: samples.filter((s) => (s.epoch ?? 0) >= 1 && s.t <= until),
      rule: 'after epoch 1, up to the last training step',
    };
  const end = samples.length ? samples[samples.length - 1].t : 0;
  const from = Math.min(end, until) * 0.1;
  return { samples: samples.filter((s) => s.t >= from && s.t <= until), rule: 'after the first 10% of the time' };
}

/** first / last / max over all samples, slopes over the window, and the verdict against `bound`. */
export function seriesStats(
  all: readonly Sample[],
  window: readonly Sample[],
  value: (s: Sample) => number,
  kind: 'rss' | 'tensors',
  bounds: Bounds,
  perEpoch = false,
): SeriesStats {
  const ys = window.map(value);
  const fit = leastSquares(
    window.map((s) => s.t / 60),
    ys,
  );
  const byEpoch = perEpoch
    ? leastSquares(
        window.map((s) => s.epoch ?? 0),
        ys,
      )
    : null;
  const perMinute = fit?.slope ?? null;
  const limit = kind === 'rss' ? bounds.rssMBPerMinute : bounds.tensorsPerMinute;
  // RSS: strictly below the bound (a bound of 1 MB/min); tensors: at most the bound (a bound of 0: not one more)
  const within = (x: number) => (kind === 'rss' ? Math.abs(x) < limit : Math.abs(x) <= limit);
  const verdict: Verdict =
    perMinute === null ? 'too few samples' : within(perMinute) ? 'flat' : perMinute > 0 ? 'GROWING' : 'falling';
  const all_ = all.map(value);
  return {
    first: all_[0],
    windowStart: ys.length ? ys[0] : null,
    last: all_[all_.length - 1],
    max: Math.max(...all_),
    perMinute,
    ...(perEpoch ? { perEpoch: byEpoch?.slope ?? null } : {}),
    fit,
    verdict,
    bound: kind === 'rss' ? `|slope| < ${limit} MB/min` : `|slope| <= ${limit} tensors/min`,
  };
}

/** Counts latencies in 0.1 ms buckets up to 10 s (the rest in the last one): constant memory however long it runs. */
export class LatencyHistogram {
  private readonly counts = new Float64Array(100_001);
  count = 0;
  add(ms: number): void {
    this.counts[Math.min(this.counts.length - 1, Math.max(0, Math.round(ms * 10)))]++;
    this.count++;
  }
  /** The q-quantile in ms (the bucket's value), or null when empty. */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return i / 10;
    }
    return (this.counts.length - 1) / 10;
  }
}
