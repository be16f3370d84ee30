// One function per chart, each returning a Vega-Lite spec with its data inlined. Rendering is render.ts's job.
import type { TopLevelSpec } from 'vega-lite';
import { topConfusions } from '../runs/metrics.js';
import { textWidthPx } from './fonts.js';
import { classNames, paretoRows, type ParetoRow } from './summary.js';
import { frameworkName, isEnsemble, runColors, type ReportRun } from './runs.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Colours for train vs validation curves. */
const SPLIT_COLORS = { domain: ['train', 'validation'], range: ['#1f77b4', '#e4572e'] };

/**
 * Loss and accuracy per epoch, train against validation, with the best epoch marked. A run without validation data
 * (a final fit on every image) shows its training curves, and the epoch it kept: its last.
 */
export function historySpec(run: ReportRun): TopLevelSpec {
  const values: { epoch: number; split: string; loss: number; accuracy: number }[] = [];
  for (const h of run.history) {
    values.push({ epoch: h.epoch, split: 'train', loss: h.loss, accuracy: h.accuracy });
    if (h.valLoss != null && h.valAccuracy != null)
      values.push({ epoch: h.epoch, split: 'validation', loss: h.valLoss, accuracy: h.valAccuracy });
  }
  const hasVal = values.some((v) => v.split === 'validation');
  const splits = hasVal ? SPLIT_COLORS : { domain: ['train'], range: [SPLIT_COLORS.range[0]!] };
  const best = run.metrics.bestEpoch;
  const label = hasVal ? `best epoch ${best}` : `kept: epoch ${best}`;
  const lastEpoch = Math.max(2, ...run.history.map((h) => h.epoch));
  const leftHalf = best - 1 < (lastEpoch - 1) / 2;
  const x = {
    field: 'epoch',
    type: 'quantitative' as const,
    title: 'Epoch',
    axis: { tickMinStep: 1, format: 'd' },
    scale: { domain: [1, lastEpoch], nice: false },
  };
  const height = 240;
  // Colour and dash encode the same field under the same title, so they share one legend of line symbols.
  const legend = { orient: 'right' as const, symbolType: 'stroke', symbolStrokeWidth: 2.5, symbolSize: 400 };
  const color = { field: 'split', type: 'nominal' as const, title: 'Data', scale: splits, legend };
  const panel = (field: 'loss' | 'accuracy', title: string, axisTitle: string, format: string) => ({
    width: 340,
    height,
    title: { text: title, fontSize: 13, frame: 'group' as const },
    layer: [
      {
        mark: { type: 'line' as const, point: { size: 36 }, strokeWidth: 2 },
        encoding: {
          x,
          y: { field, type: 'quantitative' as const, title: axisTitle, scale: { zero: false }, axis: { format } },
          color,
          strokeDash: {
            field: 'split',
            type: 'nominal' as const,
            title: 'Data',
            scale: {
              domain: splits.domain,
              range: [
                [1, 0],
                [6, 3],
              ].slice(0, splits.domain.length),
            },
            legend,
          },
        },
      },
      {
        data: { values: [{ epoch: best, label }] },
        mark: { type: 'rule' as const, color: '#777', strokeWidth: 1.5 },
        encoding: { x: { field: 'epoch', type: 'quantitative' as const } },
      },
      {
        data: { values: [{ epoch: best, label }] },
        mark: {
          type: 'text' as const,
          color: '#555',
          fontSize: 11,
          // The label sits on the side of the line with more room.
          align: leftHalf ? ('left' as const) : ('right' as const),
          dx: leftHalf ? 4 : -4,
          // Loss falls and accuracy rises, so the curves leave the top of one and the bottom of the other free.
          baseline: field === 'loss' ? ('top' as const) : ('bottom' as const),
        },
        encoding: {
          x: { field: 'epoch', type: 'quantitative' as const },
          y: { value: field === 'loss' ? 4 : height - 4 },
          text: { field: 'label' },
        },
      },
    ],
  });
  return {
    $schema: SCHEMA,
    title: {
      text: `${run.label}: training history`,
      subtitle: hasVal
        ? `Per epoch, on the training and the validation data; grey line: the best epoch (${best}), whose weights were kept`
        : `Per epoch, on the training data: no validation split (a final fit on every image), so the last epoch was kept`,
    },
    data: { values },
    hconcat: [panel('loss', 'Loss', 'Cross-entropy loss', '.2f'), panel('accuracy', 'Accuracy', 'Accuracy', '.1%')],
    resolve: { scale: { strokeDash: 'shared' } },
  };
}

/** Validation accuracy per epoch of every run on one chart. Null when no run has validation data. */
export function validationSpec(runs: readonly ReportRun[]): TopLevelSpec | null {
  const values = runs.flatMap((r) =>
    r.history
      .filter((h) => h.valAccuracy != null)
      .map((h) => ({ model: r.label, epoch: h.epoch, accuracy: h.valAccuracy })),
  );
  if (values.length === 0) return null;
  return {
    $schema: SCHEMA,
    title: { text: 'Validation accuracy by epoch', subtitle: 'All models on the same held-out validation data' },
    data: { values },
    width: 560,
    height: 300,
    mark: { type: 'line', point: { size: 36 }, strokeWidth: 2 },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'Epoch', axis: { tickMinStep: 1, format: 'd' } },
      y: {
        field: 'accuracy',
        type: 'quantitative',
        title: 'Validation accuracy',
        scale: { zero: false },
        axis: { format: '.1%' },
      },
      color: { field: 'model', type: 'nominal', title: 'Model', scale: runColors(runs) },
    },
  };
}

/** Confusion matrix heatmaps of one run: counts, and each row normalized by its true class. */
export function confusionSpec(run: ReportRun): TopLevelSpec {
  const names = classNames([run]);
  const cm = run.metrics.confusionMatrix;
  const values = cm.flatMap((row, t) => {
    const support = row.reduce((a, b) => a + b, 0);
    return row.map((count, p) => ({
      truth: names[t],
      predicted: names[p],
      count,
      rate: support ? count / support : 0,
      // Shares under half a percent would round to a misleading "0%".
      rateLabel: count === 0 ? '' : count / support < 0.005 ? '<1%' : `${Math.round((100 * count) / support)}%`,
    }));
  });
  const maxCount = Math.max(1, ...values.map((v) => v.count));
  const heatmap = (field: 'count' | 'rate', title: string, legendTitle: string, format: string, threshold: number) => ({
    width: 380,
    height: 380,
    title: { text: title, fontSize: 13, frame: 'group' as const },
    encoding: {
      x: {
        field: 'predicted',
        type: 'nominal' as const,
        sort: names,
        title: 'Predicted class',
        axis: { labelAngle: -40, labelAlign: 'right' as const },
      },
      y: { field: 'truth', type: 'nominal' as const, sort: names, title: 'True class' },
    },
    layer: [
      {
        mark: { type: 'rect' as const, stroke: '#e6e6e6', strokeWidth: 1 },
        encoding: {
          color: {
            field,
            type: 'quantitative' as const,
            title: legendTitle,
            // sqrt so that the off-diagonal mistakes (small next to the diagonal) still show; zero is white.
            scale: {
              type: 'sqrt' as const,
              domain: field === 'rate' ? [0, 1] : [0, maxCount],
              range: ['#ffffff', '#c6dbef', '#6baed6', '#2171b5', '#08306b'],
              interpolate: 'rgb' as const,
            },
            legend: { format, gradientLength: 300, orient: 'right' as const },
          },
        },
      },
      {
        transform: [{ filter: 'datum.count > 0' }],
        mark: { type: 'text' as const, fontSize: 10 },
        encoding: {
          text:
            field === 'rate'
              ? { field: 'rateLabel', type: 'nominal' as const }
              : { field, type: 'quantitative' as const, format },
          color: { condition: { test: `datum.${field} > ${threshold}`, value: 'white' }, value: '#1a1a1a' },
        },
      },
    ],
  });
  return {
    $schema: SCHEMA,
    title: {
      text: `${run.label}: confusion matrix`,
      subtitle:
        `Rows: true class, columns: predicted class, on ${values.reduce((s, v) => s + v.count, 0).toLocaleString('en-US')} test images; ` +
        'colours on a square-root scale so that small mistakes show',
    },
    data: { values },
    hconcat: [
      heatmap('count', 'Counts', 'Images', 'd', 0.3 * maxCount),
      heatmap('rate', 'Row-normalized (share of each true class)', 'Share of true class', '.0%', 0.3),
    ],
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
    spacing: 30,
  };
}

/** Per-class precision, recall and F1 as grouped bars: one panel per metric, one bar per model. */
export function perClassSpec(runs: readonly ReportRun[]): TopLevelSpec {
  const names = classNames(runs);
  const metrics = ['Precision', 'Recall', 'F1'];
  const values = runs.flatMap((r) =>
    r.metrics.perClass.flatMap((c) => [
      { model: r.label, class: c.name, metric: 'Precision', value: c.precision },
      { model: r.label, class: c.name, metric: 'Recall', value: c.recall },
      { model: r.label, class: c.name, metric: 'F1', value: c.f1 },
    ]),
  );
  return {
    $schema: SCHEMA,
    title: { text: 'Per-class precision, recall and F1', subtitle: 'On the test set, one bar per model' },
    data: { values },
    facet: {
      row: {
        field: 'metric',
        type: 'nominal',
        sort: metrics,
        title: null,
        header: { labelAngle: 0, labelAlign: 'left' },
      },
    },
    spacing: 16,
    spec: {
      width: 760,
      height: 170,
      mark: { type: 'bar' },
      encoding: {
        x: {
          field: 'class',
          type: 'nominal',
          sort: names,
          title: 'Class',
          axis: { labelAngle: 0, labelFontSize: 11, labelLimit: 80 },
          scale: { paddingInner: 0.25 },
        },
        xOffset: { field: 'model', type: 'nominal', sort: runs.map((r) => r.label) },
        y: {
          field: 'value',
          type: 'quantitative',
          title: 'Score',
          scale: { domain: [0, 1] },
          axis: { format: '.1f', tickCount: 5 },
        },
        color: { field: 'model', type: 'nominal', title: 'Model', scale: runColors(runs) },
      },
    },
  };
}

/** The most-confused (true -> predicted) pairs over all models, one bar per model. */
export function confusedPairsSpec(runs: readonly ReportRun[], k = 8): TopLevelSpec | null {
  const names = classNames(runs);
  const totals = new Map<string, number>();
  const perRun = runs.map((r) => topConfusions(r.metrics.confusionMatrix, names, names.length * names.length));
  perRun.forEach((pairs) =>
    pairs.forEach((p) => {
      const key = `${p.truth} \u2192 ${p.predicted}`;
      totals.set(key, (totals.get(key) ?? 0) + p.count);
    }),
  );
  const top = [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([key]) => key);
  if (top.length === 0) return null;
  const values = runs.flatMap((r, i) =>
    top.map((pair) => {
      const p = perRun[i].find((x) => `${x.truth} \u2192 ${x.predicted}` === pair);
      return { model: r.label, pair, count: p?.count ?? 0, rate: p?.rate ?? 0 };
    }),
  );
  return {
    $schema: SCHEMA,
    title: {
      text: 'Most-confused pairs',
      subtitle: `The ${top.length} (true class \u2192 predicted class) mistakes most common over all models, in test images`,
    },
    data: { values },
    width: 560,
    // Each pair gets about the same height whatever the number of models.
    height: { step: Math.max(10, Math.ceil(28 / Math.max(1, runs.length))) },
    mark: { type: 'bar' },
    encoding: {
      y: { field: 'pair', type: 'nominal', sort: top, title: 'True \u2192 predicted', axis: { labelLimit: 300 } },
      yOffset: { field: 'model', type: 'nominal', sort: runs.map((r) => r.label) },
      x: { field: 'count', type: 'quantitative', title: 'Misclassified test images' },
      color: { field: 'model', type: 'nominal', title: 'Model', scale: runColors(runs) },
    },
  };
}

/** Reliability diagram: accuracy against confidence per bin for every model, plus how many images fall in each bin. */
export function reliabilitySpec(runs: readonly ReportRun[]): TopLevelSpec {
  const bins = runs.flatMap((r) => {
    const total = r.metrics.reliability.reduce((s, b) => s + b.count, 0) || 1;
    return r.metrics.reliability
      .filter((b) => b.count > 0)
      .map((b) => ({
        model: r.label,
        confidence: b.confidence,
        accuracy: b.accuracy,
        count: b.count,
        share: b.count / total,
        mid: (b.lower + b.upper) / 2,
      }));
  });
  const color = { field: 'model', type: 'nominal' as const, title: 'Model', scale: runColors(runs) };
  // One line of ECEs would make the figure as wide as the list is long: a few runs per line.
  const ece: string[] = [];
  for (const item of runs.map((r) => `${r.label} ${r.metrics.ece.toFixed(4)}`)) {
    const last = ece.length - 1;
    if (last >= 0 && ece[last].length + item.length < 96) ece[last] += `, ${item}`;
    else ece.push(item);
  }
  return {
    $schema: SCHEMA,
    title: {
      text: 'Calibration: reliability diagram',
      subtitle: [
        `Expected calibration error (ECE): ${ece[0] ?? ''}`,
        ...ece.slice(1),
        'A perfectly calibrated model lies on the diagonal',
      ],
    },
    data: { values: bins },
    vconcat: [
      {
        width: 420,
        height: 380,
        layer: [
          {
            data: { values: [{ x: 0, y: 0, x2: 1, y2: 1 }] },
            mark: { type: 'rule', color: '#888', strokeDash: [4, 4] },
            encoding: {
              x: { field: 'x', type: 'quantitative' },
              y: { field: 'y', type: 'quantitative' },
              x2: { field: 'x2' },
              y2: { field: 'y2' },
            },
          },
          {
            mark: { type: 'line', point: { size: 40 }, strokeWidth: 2 },
            encoding: {
              x: {
                field: 'confidence',
                type: 'quantitative',
                title: 'Mean confidence in bin',
                scale: { domain: [0, 1] },
                axis: { format: '.0%' },
              },
              y: {
                field: 'accuracy',
                type: 'quantitative',
                title: 'Accuracy in bin',
                scale: { domain: [0, 1] },
                axis: { format: '.0%' },
              },
              color,
            },
          },
        ],
      },
      {
        width: 420,
        height: 140,
        title: { text: 'Share of test images per confidence bin (log scale)', fontSize: 12 },
        mark: { type: 'line', point: { size: 30 }, strokeWidth: 1.5 },
        encoding: {
          x: {
            field: 'mid',
            type: 'quantitative',
            title: 'Confidence (bin centre)',
            scale: { domain: [0, 1] },
            axis: { format: '.0%' },
          },
          y: {
            field: 'share',
            type: 'quantitative',
            title: 'Share of images',
            scale: { type: 'log' },
            axis: { format: '~%', values: [0.0001, 0.001, 0.01, 0.1, 1] },
          },
          color,
        },
      },
    ],
    spacing: 24,
  };
}

// ---- The Pareto view ----------------------------------------------------------------------------------------

/** Colours of the Pareto view: by kind of run, as the text labels name each one. */
const FAMILY_COLORS: Record<string, string> = { Keras: '#d35f1f', PyTorch: '#1f5fa8', Ensemble: '#2f8a4c' };
const familyOf = (r: ReportRun) => (isEnsemble(r) ? 'Ensemble' : frameworkName(r.info.framework));

export interface LabelBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface PlacedLabel {
  /** The label's anchor in pixels, and how the text hangs from it. */
  x: number;
  y: number;
  align: 'left' | 'right' | 'center';
  baseline: 'top' | 'middle' | 'bottom';
  box: LabelBox;
  /** Drawn away from its point, so a leader line joins them. */
  leader: boolean;
}

const overlap = (a: LabelBox, b: LabelBox) =>
  Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x)) *
  Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));

/**
 * Places text labels next to points (pixel coordinates, y down) so that they overlap neither each other nor
 * the points nor the `segments` (axis-aligned lines), and stay inside `width` x `height`: each label, in turn,
 * takes the first free spot around its point, then spots further out (with a leader line), else the spot
 * with the least overlap.
 */
export function placeLabels(
  points: readonly { x: number; y: number; w: number; h: number }[],
  width: number,
  height: number,
  segments: readonly LabelBox[] = [],
  radius = 5,
): PlacedLabel[] {
  const pointBoxes = points.map((p) => ({ x: p.x - radius, y: p.y - radius, w: 2 * radius, h: 2 * radius }));
  const placed: LabelBox[] = [];
  const gap = radius + 3;
  return points.map((p) => {
    type Spot = Omit<PlacedLabel, 'box'>;
    const spots: Spot[] = [
      { x: p.x + gap, y: p.y, align: 'left', baseline: 'middle', leader: false },
      { x: p.x - gap, y: p.y, align: 'right', baseline: 'middle', leader: false },
      { x: p.x, y: p.y - gap, align: 'center', baseline: 'bottom', leader: false },
      { x: p.x, y: p.y + gap, align: 'center', baseline: 'top', leader: false },
      { x: p.x + radius, y: p.y - radius, align: 'left', baseline: 'bottom', leader: false },
      { x: p.x + radius, y: p.y + radius, align: 'left', baseline: 'top', leader: false },
      { x: p.x - radius, y: p.y - radius, align: 'right', baseline: 'bottom', leader: false },
      { x: p.x - radius, y: p.y + radius, align: 'right', baseline: 'top', leader: false },
    ];
    for (const d of [16, 28, 42, 58])
      for (const [ux, uy] of [
        [0, -1],
        [0, 1],
        [1, -1],
        [1, 1],
        [-1, -1],
        [-1, 1],
        [1, 0],
        [-1, 0],
      ])
        spots.push({
          x: p.x + ux * (d + (uy === 0 ? gap : 0)),
          y: p.y + uy * d,
          align: ux > 0 ? 'left' : ux < 0 ? 'right' : 'center',
          baseline: uy < 0 ? 'bottom' : uy > 0 ? 'top' : 'middle',
          leader: true,
        });
    const boxOf = (s: Spot): LabelBox => ({
      x: s.align === 'left' ? s.x : s.align === 'right' ? s.x - p.w : s.x - p.w / 2,
      y: s.baseline === 'top' ? s.y : s.baseline === 'bottom' ? s.y - p.h : s.y - p.h / 2,
      w: p.w,
      h: p.h,
    });
    const pad = (b: LabelBox, m: number) => ({ x: b.x - m, y: b.y - m, w: b.w + 2 * m, h: b.h + 2 * m });
    const cost = (s: Spot) => {
      const b = boxOf(s);
      if (b.x < 0 || b.y < 0 || b.x + b.w > width || b.y + b.h > height) return Number.POSITIVE_INFINITY;
      let c = 0;
      for (const o of placed) c += overlap(pad(b, 2), o);
      for (const o of pointBoxes) c += 2 * overlap(pad(b, 1), o);
      for (const o of segments) c += overlap(b, o) > 0 ? 20 : 0;
      return c;
    };
    let best = spots[0];
    let bestCost = Number.POSITIVE_INFINITY;
    for (const s of spots) {
      const c = cost(s);
      if (c < bestCost) [best, bestCost] = [s, c];
      if (c === 0) break;
    }
    const box = boxOf(best);
    placed.push(box);
    return { ...best, box };
  });
}

const LABEL_FONT = 11;
const LABEL_HEIGHT = 13;

/**
 * Log-scale ticks that read well: 1, 2, 5 x 10^k (round durations past a minute for seconds); 1..9 x 10^k
 * where the domain is too narrow for two of those; the points' own values where even that fails.
 */
function logTicks(lo: number, hi: number, cost: 'seconds' | 'params', own: readonly number[]): number[] {
  const decades = (ms: number[]) =>
    Array.from({ length: 16 }, (_, k) => ms.map((m) => Number((m * 10 ** (k - 4)).toPrecision(1)))).flat();
  const coarse =
    cost === 'seconds'
      ? [
          ...decades([1, 2, 5]).filter((t) => t <= 20),
          30,
          60,
          120,
          300,
          600,
          1200,
          1800,
          3600,
          7200,
          4 * 3600,
          10 * 3600,
          24 * 3600,
          48 * 3600,
        ]
      : decades([1, 2, 5]);
  const inside = (ts: readonly number[]) => ts.filter((t) => t >= lo && t <= hi);
  if (inside(coarse).length >= 2) return inside(coarse);
  const fine = inside(decades([1, 2, 3, 4, 5, 6, 7, 8, 9]));
  return fine.length >= 2 ? fine : [...new Set(own)].sort((a, b) => a - b);
}

/** One panel of the Pareto view: accuracy against a cost on a log scale, frontier as a staircase. */
function paretoPanel(
  rows: ParetoRow[],
  cost: 'seconds' | 'params',
  accDomain: [number, number],
  width: number,
  height: number,
) {
  const xs = rows.map((r) => r.x);
  const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
  // Room on both sides in log space, at least a factor of 2 overall, so that the labels of the end points fit.
  const span = Math.max(Math.log(hi / lo), Math.log(2));
  const x0 = Math.exp(Math.log(lo) - 0.12 * span);
  const x1 = Math.exp(Math.log(hi) + 0.12 * span);
  const px = (x: number) => (width * Math.log(x / x0)) / Math.log(x1 / x0);
  const py = (y: number) => height * (1 - (y - accDomain[0]) / (accDomain[1] - accDomain[0]));
  const front = rows.filter((r) => r.onFrontier).sort((a, b) => a.x - b.x);
  // The staircase in pixels, for the labels to keep off: horizontal from each frontier point, then up.
  const segments: LabelBox[] = front.slice(0, -1).flatMap((r, i) => {
    const n = front[i + 1];
    const [ax, ay, bx, by] = [px(r.x), py(r.y), px(n.x), py(n.y)];
    return [
      { x: ax, y: ay - 0.5, w: bx - ax, h: 1 },
      { x: bx - 0.5, y: Math.min(ay, by), w: 1, h: Math.abs(ay - by) },
    ];
  });
  // Frontier labels are placed first (they matter most), from the cheapest up.
  const order = rows
    .map((r, i) => i)
    .sort((a, b) => Number(rows[b].onFrontier) - Number(rows[a].onFrontier) || rows[a].x - rows[b].x);
  const toPlace = order.map((i) => ({
    x: px(rows[i].x),
    y: py(rows[i].y),
    w: textWidthPx(rows[i].run.label, LABEL_FONT, rows[i].onFrontier ? 'bold' : 'normal'),
    h: LABEL_HEIGHT,
  }));
  const placedInOrder = placeLabels(toPlace, width, height, segments);
  const placed: PlacedLabel[] = [];
  order.forEach((i, k) => (placed[i] = placedInOrder[k]));
  const fromPx = (x: number, y: number) => ({
    lx: x0 * Math.exp((x / width) * Math.log(x1 / x0)),
    ly: accDomain[0] + (1 - y / height) * (accDomain[1] - accDomain[0]),
  });
  const values = rows.map((r, i) => {
    const l = placed[i];
    // A leader line runs from the point to the nearest edge of the label's box.
    const ex = Math.max(l.box.x, Math.min(px(r.x), l.box.x + l.box.w));
    const ey = Math.max(l.box.y, Math.min(py(r.y), l.box.y + l.box.h));
    const end = fromPx(ex, ey);
    return {
      label: r.run.label,
      family: familyOf(r.run),
      evaluation: r.run.tta ? 'with TTA' : 'plain',
      cost: r.x,
      accuracy: r.y,
      front: r.onFrontier,
      ...fromPx(l.x, l.y),
      align: l.align,
      baseline: l.baseline,
      leader: l.leader,
      ex: end.lx,
      ey: end.ly,
    };
  });
  const ticks = logTicks(x0, x1, cost, xs);
  const x = {
    field: 'cost',
    type: 'quantitative' as const,
    title: cost === 'seconds' ? 'Training time (log scale)' : 'Trainable parameters (log scale)',
    scale: { type: 'log' as const, domain: [x0, x1], nice: false },
    axis:
      cost === 'seconds'
        ? {
            values: ticks,
            labelExpr:
              "datum.value < 60 ? format(datum.value, '.2~r') + ' s' : datum.value < 3600 ? " +
              "format(datum.value / 60, '.2~r') + ' min' : format(datum.value / 3600, '.2~r') + ' h'",
          }
        : { values: ticks, format: '.3~s' },
  };
  const y = {
    field: 'accuracy',
    type: 'quantitative' as const,
    title: 'Test accuracy',
    scale: { domain: accDomain, nice: false, zero: false },
    axis: { format: '.1%' },
  };
  const families = [...new Set(rows.map((r) => familyOf(r.run)))].sort(
    (a, b) => Object.keys(FAMILY_COLORS).indexOf(a) - Object.keys(FAMILY_COLORS).indexOf(b),
  );
  const color = {
    field: 'family',
    type: 'nominal' as const,
    title: 'Run',
    scale: { domain: families, range: families.map((f) => FAMILY_COLORS[f] ?? '#777') },
    legend: { orient: 'top' as const, direction: 'horizontal' as const },
  };
  const evaluations = ['plain', 'with TTA'].filter((e) => values.some((v) => v.evaluation === e));
  const shape = {
    field: 'evaluation',
    type: 'nominal' as const,
    title: 'Evaluation',
    scale: { domain: evaluations, range: ['circle', 'triangle-up'].slice(0, evaluations.length) },
    legend: { orient: 'top' as const, direction: 'horizontal' as const },
  };
  const textLayers = [...new Set(values.map((v) => `${v.align}|${v.baseline}|${v.front}`))].map((key) => {
    const [align, baseline, front] = key.split('|');
    return {
      transform: [
        { filter: `datum.align === '${align}' && datum.baseline === '${baseline}' && datum.front === ${front}` },
      ],
      mark: {
        type: 'text' as const,
        align: align as PlacedLabel['align'],
        baseline: baseline as PlacedLabel['baseline'],
        fontSize: LABEL_FONT,
        fontWeight: front === 'true' ? ('bold' as const) : ('normal' as const),
        color: '#222',
      },
      encoding: {
        x: { field: 'lx', type: 'quantitative' as const, scale: x.scale },
        y: { field: 'ly', type: 'quantitative' as const, scale: y.scale },
        text: { field: 'label', type: 'nominal' as const },
      },
    };
  });
  return {
    width,
    height,
    title: {
      text: cost === 'seconds' ? 'Test accuracy against training time' : 'Test accuracy against trainable parameters',
      fontSize: 13,
      frame: 'group' as const,
    },
    data: { values },
    layer: [
      ...(front.length > 1
        ? [
            {
              transform: [{ filter: 'datum.front' }],
              mark: { type: 'line' as const, interpolate: 'step-after' as const, color: '#8a8f96', strokeWidth: 1.5 },
              encoding: { x, y, order: { field: 'cost', type: 'quantitative' as const } },
            },
          ]
        : []),
      {
        transform: [{ filter: 'datum.leader' }],
        mark: { type: 'rule' as const, color: '#9aa0a6', strokeWidth: 0.8 },
        encoding: {
          x,
          y,
          x2: { field: 'ex' },
          y2: { field: 'ey' },
        },
      },
      {
        mark: { type: 'point' as const, filled: true, size: 70, opacity: 0.95 },
        encoding: {
          x,
          y,
          color,
          shape,
          stroke: { condition: { test: 'datum.front', value: '#111' }, value: 'white' },
          strokeWidth: { condition: { test: 'datum.front', value: 1.5 }, value: 0.8 },
        },
      },
      ...textLayers,
    ],
  };
}

/**
 * The Pareto view: test accuracy against training time and against trainable parameters (both log scales),
 * one labelled point per run (ensembles and TTA rows included), the frontier drawn as a staircase. Null when
 * fewer than two runs have both numbers.
 */
export function paretoSpec(runs: readonly ReportRun[]): TopLevelSpec | null {
  const time = paretoRows(runs, 'seconds');
  const params = paretoRows(runs, 'params');
  if (Math.max(time.length, params.length) < 2) return null;
  const accs = [...time, ...params].map((r) => r.y);
  const [lo, hi] = [Math.min(...accs), Math.max(...accs)];
  const pad = Math.max(0.004, 0.12 * (hi - lo));
  const accDomain: [number, number] = [Math.max(0, lo - pad), Math.min(1, hi + pad)];
  const width = 720;
  const height = Math.max(240, Math.min(360, 60 + 22 * Math.max(time.length, params.length)));
  const panels = [
    ...(time.length >= 2 ? [paretoPanel(time, 'seconds', accDomain, width, height)] : []),
    ...(params.length >= 2 ? [paretoPanel(params, 'params', accDomain, width, height)] : []),
  ];
  const missing = runs.length - time.length;
  return {
    $schema: SCHEMA,
    title: {
      text: 'Accuracy against cost',
      subtitle: [
        'One point per run; grey staircase: the Pareto frontier (runs no other run beats with higher accuracy at lower cost), labelled in bold',
        ...(missing > 0
          ? [
              `${missing} run${missing === 1 ? '' : 's'} without a known training time ${missing === 1 ? 'is' : 'are'} only on the parameters panel`,
            ]
          : []),
      ],
    },
    vconcat: panels,
    spacing: 28,
    resolve: { legend: { color: 'shared', shape: 'shared' } },
  } as TopLevelSpec;
}
