// One function per chart, each returning a Vega-Lite spec with its data inlined. Rendering is render.ts's job.
import type { TopLevelSpec } from 'vega-lite';
import { topConfusions } from '../runs/metrics.js';
import { classNames } from './summary.js';
import { runColors, type ReportRun } from './runs.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Colours for train vs validation curves. */
const SPLIT_COLORS = { domain: ['train', 'validation'], range: ['#1f77b4', '#e4572e'] };

/** Loss and accuracy per epoch, train against validation, with the best epoch marked. */
export function historySpec(run: ReportRun): TopLevelSpec {
  const values: { epoch: number; split: string; loss: number; accuracy: number }[] = [];
  for (const h of run.history) {
    values.push({ epoch: h.epoch, split: 'train', loss: h.loss, accuracy: h.accuracy });
    if (h.valLoss != null && h.valAccuracy != null)
      values.push({ epoch: h.epoch, split: 'validation', loss: h.valLoss, accuracy: h.valAccuracy });
  }
  const best = run.metrics.bestEpoch;
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
  const color = { field: 'split', type: 'nominal' as const, title: 'Data', scale: SPLIT_COLORS, legend };
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
              domain: SPLIT_COLORS.domain,
              range: [
                [1, 0],
                [6, 3],
              ],
            },
            legend,
          },
        },
      },
      {
        data: { values: [{ epoch: best, label: `best epoch ${best}` }] },
        mark: { type: 'rule' as const, color: '#777', strokeWidth: 1.5 },
        encoding: { x: { field: 'epoch', type: 'quantitative' as const } },
      },
      {
        data: { values: [{ epoch: best, label: `best epoch ${best}` }] },
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
      subtitle: `Per epoch, on the training and the validation data; grey line: the best epoch (${best}), whose weights were kept`,
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
  const ece = runs.map((r) => `${r.label} ${r.metrics.ece.toFixed(4)}`).join(', ');
  return {
    $schema: SCHEMA,
    title: {
      text: 'Calibration: reliability diagram',
      subtitle: [`Expected calibration error (ECE): ${ece}`, 'A perfectly calibrated model lies on the diagonal'],
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
