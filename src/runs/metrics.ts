// Classification metrics from predicted probabilities. Pure functions, tested on hand-computed cases.

export interface ClassMetrics {
  label: number;
  name: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface Averages {
  precision: number;
  recall: number;
  f1: number;
}

export interface Evaluation {
  accuracy: number;
  loss: number;
  confusionMatrix: number[][];
  perClass: ClassMetrics[];
  macro: Averages;
  weighted: Averages;
  ece: number;
  reliability: ReliabilityBin[];
}

export interface ReliabilityBin {
  lower: number;
  upper: number;
  count: number;
  confidence: number;
  accuracy: number;
}

/** Rows are the true classes, columns the predicted ones. */
export function confusionMatrix(truth: ArrayLike<number>, pred: ArrayLike<number>, numClasses: number): number[][] {
  if (truth.length !== pred.length)
    throw new Error(`confusionMatrix: ${truth.length} labels but ${pred.length} predictions`);
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < truth.length; i++) m[truth[i]][pred[i]]++;
  return m;
}

const safeDiv = (a: number, b: number) => (b === 0 ? 0 : a / b);

/** Per-class precision/recall/F1. A class never predicted gets precision 0 (not NaN), as sklearn's zero_division=0. */
export function perClassMetrics(cm: number[][], names: readonly string[]): ClassMetrics[] {
  const k = cm.length;
  return cm.map((row, c) => {
    const tp = row[c];
    const support = row.reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let r = 0; r < k; r++) predicted += cm[r][c];
    const precision = safeDiv(tp, predicted);
    const recall = safeDiv(tp, support);
    const f1 = safeDiv(2 * precision * recall, precision + recall);
    return { label: c, name: names[c] ?? String(c), precision, recall, f1, support };
  });
}

export function averages(per: ClassMetrics[]): { macro: Averages; weighted: Averages } {
  const n = per.length;
  const total = per.reduce((s, c) => s + c.support, 0);
  const avg = (f: (c: ClassMetrics) => number, w: (c: ClassMetrics) => number, d: number) =>
    safeDiv(
      per.reduce((s, c) => s + f(c) * w(c), 0),
      d,
    );
  const one = () => 1;
  const sup = (c: ClassMetrics) => c.support;
  return {
    macro: {
      precision: avg((c) => c.precision, one, n),
      recall: avg((c) => c.recall, one, n),
      f1: avg((c) => c.f1, one, n),
    },
    weighted: {
      precision: avg((c) => c.precision, sup, total),
      recall: avg((c) => c.recall, sup, total),
      f1: avg((c) => c.f1, sup, total),
    },
  };
}

/** Expected calibration error over equal-width confidence bins, with the bins for a reliability diagram. */
export function calibration(
  confidence: ArrayLike<number>,
  correct: ArrayLike<boolean | number>,
  bins = 15,
): { ece: number; reliability: ReliabilityBin[] } {
  const count = new Array<number>(bins).fill(0);
  const conf = new Array<number>(bins).fill(0);
  const acc = new Array<number>(bins).fill(0);
  const n = confidence.length;
  for (let i = 0; i < n; i++) {
    const b = Math.min(bins - 1, Math.floor(confidence[i] * bins));
    count[b]++;
    conf[b] += confidence[i];
    acc[b] += correct[i] ? 1 : 0;
  }
  let ece = 0;
  const reliability: ReliabilityBin[] = [];
  for (let b = 0; b < bins; b++) {
    const c = safeDiv(conf[b], count[b]);
    const a = safeDiv(acc[b], count[b]);
    if (n) ece += (count[b] / n) * Math.abs(a - c);
    reliability.push({ lower: b / bins, upper: (b + 1) / bins, count: count[b], confidence: c, accuracy: a });
  }
  return { ece, reliability };
}

/** Everything from class probabilities (n × k, row-major) and the true labels. */
export function evaluateProbs(
  probs: Float32Array,
  labels: ArrayLike<number>,
  names: readonly string[],
  numClasses = names.length,
): Evaluation & { predicted: Int32Array; confidence: Float32Array } {
  const n = labels.length;
  if (probs.length !== n * numClasses) throw new Error(`evaluateProbs: expected ${n}×${numClasses} probabilities`);
  const predicted = new Int32Array(n);
  const confidence = new Float32Array(n);
  let nll = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < numClasses; c++) if (probs[i * numClasses + c] > probs[i * numClasses + best]) best = c;
    predicted[i] = best;
    confidence[i] = probs[i * numClasses + best];
    nll -= Math.log(Math.max(probs[i * numClasses + labels[i]], 1e-12));
    if (best === labels[i]) correct++;
  }
  const cm = confusionMatrix(labels, predicted, numClasses);
  const perClass = perClassMetrics(cm, names);
  const { macro, weighted } = averages(perClass);
  const isRight = Array.from(predicted, (p, i) => p === labels[i]);
  const { ece, reliability } = calibration(confidence, isRight);
  return {
    accuracy: safeDiv(correct, n),
    loss: safeDiv(nll, n),
    confusionMatrix: cm,
    perClass,
    macro,
    weighted,
    ece,
    reliability,
    predicted,
    confidence,
  };
}

/** The most-confused (true, predicted) pairs, off the diagonal, largest first. */
export function topConfusions(cm: number[][], names: readonly string[], k = 5) {
  const pairs: { truth: string; predicted: string; count: number; rate: number }[] = [];
  cm.forEach((row, t) => {
    const support = row.reduce((a, b) => a + b, 0);
    row.forEach((v, p) => {
      if (t !== p && v > 0) pairs.push({ truth: names[t], predicted: names[p], count: v, rate: safeDiv(v, support) });
    });
  });
  return pairs.sort((a, b) => b.count - a.count).slice(0, k);
}
