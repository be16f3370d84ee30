// The visual report: figures (SVG + PNG) under <out>/figures/, then <out>/report.html (self-contained)
// and <out>/report.md (links the PNGs).
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import type { Split } from '../data/index.js';
import { writeFileAtomic } from '../util/fsutil.js';
import {
  renderHtml,
  renderMarkdown,
  type Block,
  type FigureRef,
  type ReportDocument,
  type Section,
} from './document.js';
import { renderPredictionGrid, renderSamples } from './images.js';
import { rasterFigure, renderChart, type RenderedFigure } from './render.js';
import { isEnsemble, isTtaRow, modelRuns, provenanceText, runLabel, type ReportRun } from './runs.js';
import {
  confusionSpec,
  confusedPairsSpec,
  historySpec,
  paretoSpec,
  perClassSpec,
  reliabilitySpec,
  validationSpec,
} from './specs.js';
import {
  classNames,
  comparisonTable,
  conclusions,
  confusedPairsTable,
  formatDuration,
  pct,
  perClassRows,
  perClassTable,
  recipeSummary,
  type PerClassRow,
} from './summary.js';

export {
  ensembleLabel,
  isEnsemble,
  isTtaRow,
  loadRun,
  loadRuns,
  loadTtaRow,
  modelRuns,
  runId,
  runLabel,
  sortRuns,
  trainingSeconds,
  ttaLabel,
  type EnsembleMember,
  type ReportRun,
} from './runs.js';
export { renderChart, rasterFigure, svgToPng, PNG_SCALE, type RenderedFigure } from './render.js';
export { GRID, predictionGridSize, renderPredictionGrid, selectPredictions } from './images.js';
export * as specs from './specs.js';
export * from './summary.js';
export { renderHtml, renderMarkdown, type ReportDocument } from './document.js';

export interface ReportInput {
  /** Where report.html, report.md and figures/ go (usually the folder that holds the runs). */
  outDir: string;
  runs: ReportRun[];
  /** Test images for the prediction grids; each run's test-probs.bin covers its first `testCount` images. */
  test?: Split | null;
  /** Images for the dataset's sample grid (normally the training split). */
  samples?: Split | null;
  /** Lines for the Notes block: runs skipped, data not found, ... */
  notes?: string[];
  log?: (s: string) => void;
}

export interface ReportOutput {
  html: string;
  md: string;
  figuresDir: string;
  figures: {
    id: string;
    svg: string;
    png: string;
    width: number;
    height: number;
    pngWidth: number;
    pngHeight: number;
  }[];
}

/**
 * Whether `test` holds the images a run was tested on: enough of them, with labels that give back the run's
 * confusion matrix from its test-probs.bin (so a grid never pairs a prediction with some other image's label).
 */
export function testImagesMatch(run: ReportRun, test: Split): boolean {
  const cm = run.metrics.confusionMatrix;
  const k = cm.length;
  const n = cm.reduce((s, row) => s + row.reduce((a, b) => a + b, 0), 0);
  if (test.count < n || test.labels.length < n) return false;
  const again = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < n; i++) {
    const t = test.labels[i];
    if (t >= k) return false;
    let best = 0;
    if (run.probs) for (let c = 1; c < k; c++) if (run.probs[i * k + c] > run.probs[i * k + best]) best = c;
    if (run.probs) again[t][best]++;
    else again[t][t]++;
  }
  return run.probs
    ? again.every((row, t) => row.every((v, p) => v === cm[t][p]))
    : again.every((row, t) => row[t] === cm[t].reduce((a, b) => a + b, 0));
}

function perClassHtml(runs: readonly ReportRun[], rows: PerClassRow[]): string {
  const esc = (s: string) => s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c] ?? c);
  const f = (x: number) => x.toFixed(3);
  const head1 = `<tr><th rowspan="2">Class</th><th rowspan="2" class="num">Support</th>${runs
    .map((r) => `<th colspan="3" class="group">${esc(r.label)}</th>`)
    .join('')}</tr>`;
  const head2 = `<tr>${runs.map(() => '<th class="num">P</th><th class="num">R</th><th class="num">F1</th>').join('')}</tr>`;
  const body = rows.map((row) => {
    const bestF1 = Math.max(...row.values.map((v) => v.f1));
    const cells = row.values
      .map(
        (v) =>
          `<td class="num">${f(v.precision)}</td><td class="num">${f(v.recall)}</td>` +
          `<td class="num">${v.f1 === bestF1 && runs.length > 1 ? `<b>${f(v.f1)}</b>` : f(v.f1)}</td>`,
      )
      .join('');
    const avg = row.name.endsWith('avg');
    return `<tr${avg ? ' class="avg"' : ''}><td>${esc(row.name)}</td><td class="num">${row.support == null ? '' : row.support.toLocaleString('en-US')}</td>${cells}</tr>`;
  });
  return [
    '<p class="caption">P: precision, R: recall; the best F1 of each class in bold. A class never predicted has precision 0.</p>',
    '<div class="table-wrap"><table class="per-class">',
    `<thead>${head1}${head2}</thead>`,
    `<tbody>${body.join('\n')}</tbody></table></div>`,
  ].join('\n');
}

function dataSummary(all: readonly ReportRun[]): string {
  // An ensemble's run.json may not say; its members' do.
  const runs = all.filter((r) => r.info.data);
  const d = runs[0]?.info.data;
  if (!d) return '';
  const same = runs.every(
    (r) =>
      r.info.data.trainCount === d.trainCount &&
      r.info.data.valCount === d.valCount &&
      r.info.data.testCount === d.testCount,
  );
  const counts = `${d.trainCount.toLocaleString('en-US')} training, ${d.valCount.toLocaleString('en-US')} validation and ${d.testCount.toLocaleString('en-US')} test images`;
  return same
    ? `Every model saw the same data: ${counts} of Fashion-MNIST (${d.dir}${d.verified ? ', checksums verified' : ''}).`
    : `The runs used different amounts of data; see Runs below. The first: ${counts}.`;
}

function ensembleDetails(r: ReportRun, tta: ReportRun | undefined): Block[] {
  const m = r.metrics;
  const members = r.members ?? [];
  const items: { lead?: string; text: string }[] = [
    { lead: 'Folder', text: r.dir },
    {
      lead: 'Members',
      text: members.length
        ? members
            .map((x) => `${runLabel(x.framework, x.model)} (${x.dir}, ${x.params.toLocaleString('en-US')} parameters)`)
            .join('; ')
        : 'not listed in run.json',
    },
    {
      lead: 'Evaluation',
      text:
        `test accuracy ${pct(m.testAccuracy)}` +
        (r.tta ? ', with test-time augmentation' : '') +
        `, ${m.params.toLocaleString('en-US')} parameters in all` +
        (r.trainSeconds != null ? `, ${formatDuration(r.trainSeconds)} of training in all` : '') +
        (tta ? `; with TTA ${pct(tta.metrics.testAccuracy)} (metrics-tta.json)` : ''),
    },
  ];
  if (r.info.data)
    items.push({
      lead: 'Data',
      text: `${r.info.data.testCount} test images from ${r.info.data.dir}`,
    });
  if (r.info.createdAt) items.push({ lead: 'Built', text: r.info.createdAt });
  return [
    { kind: 'subheading', text: r.label },
    { kind: 'list', items },
  ];
}

function runDetails(r: ReportRun, all: readonly ReportRun[]): Block[] {
  const tta = all.find((t) => t.ttaOf === r.id);
  if (isEnsemble(r)) return ensembleDetails(r, tta);
  const c = r.info.config;
  const engine = Object.entries(r.info.engine ?? {})
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [
    { kind: 'subheading', text: r.label },
    {
      kind: 'list',
      items: [
        { lead: 'Folder', text: r.dir },
        { lead: 'Recipe', text: recipeSummary(c, r.info.recipe) },
        {
          lead: 'Config',
          text:
            `epochs ${c.epochs} (ran ${r.metrics.epochs}, best ${r.metrics.bestEpoch}), batch size ${c.batchSize}, ` +
            `seed ${c.seed}, validation split ${c.valSplit}, patience ${c.patience}, threads ${c.threads}` +
            (c.limit ? `, limit ${c.limit}` : '') +
            (c.testLimit ? `, test limit ${c.testLimit}` : ''),
        },
        ...(tta
          ? [
              {
                lead: 'TTA',
                text:
                  `with test-time augmentation (metrics-tta.json): test accuracy ${pct(tta.metrics.testAccuracy)} ` +
                  `against ${pct(r.metrics.testAccuracy)}, ECE ${tta.metrics.ece.toFixed(4)}`,
              },
            ]
          : []),
        {
          lead: 'Data',
          text: `${r.info.data.trainCount} train / ${r.info.data.valCount} validation / ${r.info.data.testCount} test images from ${r.info.data.dir} (${r.info.data.origin})`,
        },
        ...(r.info.provenance
          ? [
              {
                lead: 'Weights',
                text:
                  `${provenanceText(r.info.provenance, true)} on ${r.info.provenance.createdAt} ` +
                  `(SHA-256 ${r.info.provenance.sha256.slice(0, 16)}…); the training and its history are the source's`,
              },
            ]
          : []),
        { lead: 'Engine', text: engine || '-' },
        {
          lead: 'Host',
          text: `${r.info.host.cpus} CPU${r.info.host.cpus === 1 ? '' : 's'}, Node ${r.info.host.node}; trained ${r.info.createdAt}`,
        },
      ],
    },
    { kind: 'details', summary: 'Model definition', text: r.info.definition },
  ];
}

/** Renders every figure and writes report.html, report.md and figures/ under `outDir`. */
export async function buildReport(input: ReportInput): Promise<ReportOutput> {
  const { outDir } = input;
  // Every row (ensembles and TTA rows too) for the table and the Pareto view; the models of their own for the
  // per-model figures (a TTA row has no history or probabilities, and would repeat its run's figures).
  const all = input.runs;
  const runs = modelRuns(all);
  const log = input.log ?? (() => {});
  const figuresDir = join(outDir, 'figures');
  const figures: ReportOutput['figures'] = [];
  const notes = [...(input.notes ?? [])];

  const save = (id: string, title: string, caption: string, kind: FigureRef['kind'], r: RenderedFigure): FigureRef => {
    const svg = join(figuresDir, `${id}.svg`);
    const png = join(figuresDir, `${id}.png`);
    writeFileAtomic(svg, r.svg);
    writeFileAtomic(png, r.png);
    figures.push({ id, svg, png, width: r.width, height: r.height, pngWidth: r.pngWidth, pngHeight: r.pngHeight });
    return { id, title, caption, kind, svg: r.svg, png: r.png, width: r.width, height: r.height };
  };
  const chart = async (id: string, title: string, caption: string, spec: TopLevelSpec): Promise<Block> => {
    log(`  figure ${id}`);
    return { kind: 'figure', figure: save(id, title, caption, 'chart', await renderChart(spec)) };
  };

  const sections: Section[] = [];
  const names = classNames(runs);

  // Comparison and conclusions.
  const comparison: Block[] = [];
  if (runs.length === 0) comparison.push({ kind: 'p', text: 'No finished runs to compare yet.' });
  else {
    comparison.push({ kind: 'p', text: dataSummary(runs) });
    const tagged = [
      ...(all.some(isEnsemble)
        ? [
            'rows tagged \u201censemble\u201d combine the models listed under Runs, and their training time is their members\u2019 together',
          ]
        : []),
      ...(all.some((r) => r.tta)
        ? ['rows tagged \u201cTTA\u201d are evaluated with test-time augmentation, after the same training']
        : []),
    ];
    comparison.push({
      kind: 'table',
      table: comparisonTable(all),
      caption:
        'Training time is the sum of the epochs\u2019 training passes; images/s is training throughput; ' +
        'validation accuracy is at the best epoch, whose weights were kept; ECE is the expected calibration error on the test set' +
        (tagged.length ? `; ${tagged.join('; ')}.` : '.'),
    });
  }
  if (notes.length)
    comparison.push({ kind: 'subheading', text: 'Notes' }, { kind: 'list', items: notes.map((text) => ({ text })) });
  sections.push({ id: 'comparison', title: 'Comparison', blocks: comparison });
  const pareto = paretoSpec(all);
  if (pareto)
    sections.push({
      id: 'pareto',
      title: 'Accuracy against cost',
      blocks: [
        await chart(
          'pareto',
          'Accuracy against cost',
          'Test accuracy against training time and against trainable parameters, one point per run; the staircase is the Pareto frontier, the runs that no other run beats with higher accuracy at lower cost.',
          pareto,
        ),
      ],
    });
  if (runs.length)
    sections.push({
      id: 'conclusions',
      title: 'Conclusions',
      blocks: [
        { kind: 'p', text: 'Computed from the numbers above.' },
        { kind: 'list', items: conclusions(all).map((c) => ({ lead: c.topic, text: c.text })) },
      ],
    });

  // The dataset.
  const dataset: Block[] = [];
  if (input.samples && input.samples.count > 0) {
    log('  figure samples');
    const fig = save(
      'samples',
      'Fashion-MNIST samples',
      'The first 12 training images of each class, one row per class.',
      'image',
      rasterFigure(renderSamples(input.samples), 'Fashion-MNIST samples, one row per class'),
    );
    dataset.push({ kind: 'figure', figure: fig });
  } else
    dataset.push({
      kind: 'p',
      text: 'The dataset was not available when this report was built, so there is no sample grid.',
    });
  sections.push({ id: 'dataset', title: 'Dataset', blocks: dataset });

  if (runs.length) {
    // Training history.
    const history: Block[] = [];
    const vs = validationSpec(runs);
    if (vs && runs.length > 1)
      history.push(
        await chart(
          'validation-accuracy',
          'Validation accuracy by epoch',
          'Every model on the held-out validation data.',
          vs,
        ),
      );
    for (const r of runs) {
      if (r.history.length === 0) continue;
      history.push(
        await chart(
          `history-${r.id}`,
          `${r.label}: training history`,
          r.history.some((h) => h.valAccuracy != null)
            ? 'Loss and accuracy per epoch, train against validation; the grey line marks the best epoch.'
            : 'Loss and accuracy per epoch on the training data: a final fit with no validation split, which kept its last epoch.',
          historySpec(r),
        ),
      );
    }
    sections.push({ id: 'history', title: 'Training history', blocks: history });

    // Confusion matrices.
    const confusion: Block[] = [];
    for (const r of runs)
      confusion.push(
        await chart(
          `confusion-${r.id}`,
          `${r.label}: confusion matrix`,
          'Left: counts of test images; right: each row divided by its true class\u2019s size, so the diagonal is the recall.',
          confusionSpec(r),
        ),
      );
    sections.push({ id: 'confusion', title: 'Confusion matrices', blocks: confusion });

    // Per-class metrics.
    const rows = perClassRows(runs);
    sections.push({
      id: 'per-class',
      title: 'Per-class metrics',
      blocks: [
        { kind: 'table', table: perClassTable(runs), html: perClassHtml(runs, rows) },
        await chart(
          'per-class',
          'Per-class precision, recall and F1',
          'Grouped by class, one bar per model.',
          perClassSpec(runs),
        ),
      ],
    });

    // Confused pairs.
    const pairs: Block[] = [
      {
        kind: 'table',
        table: confusedPairsTable(runs),
        caption: 'Top 5 per model: true \u2192 predicted: count (share of the true class).',
      },
    ];
    const ps = confusedPairsSpec(runs);
    if (ps)
      pairs.push(
        await chart(
          'confused-pairs',
          'Most-confused pairs',
          'The mistakes most common over all models, per model.',
          ps,
        ),
      );
    sections.push({ id: 'confused-pairs', title: 'Most-confused pairs', blocks: pairs });

    // Calibration.
    sections.push({
      id: 'calibration',
      title: 'Calibration',
      blocks: [
        {
          kind: 'p',
          text:
            'The expected calibration error (ECE) is the gap between confidence and accuracy, averaged over 15 equal-width ' +
            'confidence bins weighted by how many test images fall in each.',
        },
        await chart(
          'reliability',
          'Reliability diagram',
          'Accuracy against confidence per bin; the diagonal is perfect calibration.',
          reliabilitySpec(runs),
        ),
      ],
    });

    // Prediction grids.
    const predictions: Block[] = [];
    for (const r of runs) {
      if (!r.probs) {
        predictions.push({ kind: 'p', text: `${r.label}: no test-probs.bin in ${r.dir}, so no prediction grid.` });
        continue;
      }
      if (!input.test || !testImagesMatch(r, input.test)) {
        predictions.push({
          kind: 'p',
          text: `${r.label}: the test images ${input.test ? 'found do not match this run\u2019s test set' : 'were not available'}, so no prediction grid.`,
        });
        continue;
      }
      log(`  figure predictions-${r.id}`);
      const fig = save(
        `predictions-${r.id}`,
        `${r.label}: predictions`,
        'Test images with the true label (grey), the prediction and its confidence (green when right, red and framed when wrong).',
        'image',
        rasterFigure(
          renderPredictionGrid(r.label, r.probs, input.test, names),
          `${r.label}: predictions on test images`,
        ),
      );
      predictions.push({ kind: 'figure', figure: fig });
    }
    sections.push({ id: 'predictions', title: 'Predictions', blocks: predictions });

    sections.push({ id: 'runs', title: 'Runs', blocks: runs.flatMap((r) => runDetails(r, all)) });
  }

  // Figures from earlier reports that this one did not draw (a run since removed) would mislead.
  const keep = new Set(figures.flatMap((f) => [f.svg, f.png]));
  if (existsSync(figuresDir))
    for (const name of readdirSync(figuresDir))
      if (/\.(svg|png)$/.test(name) && !keep.has(join(figuresDir, name)))
        rmSync(join(figuresDir, name), { force: true });

  const variants = all.filter(isTtaRow).length;
  const doc: ReportDocument = {
    title: 'Fashion-MNIST: Keras vs PyTorch',
    subtitle:
      `${runs.length} model${runs.length === 1 ? '' : 's'}: ${runs.map((r) => r.label).join(', ') || 'none'}` +
      (variants ? `; ${variants} also evaluated with TTA. ` : '. ') +
      `Generated ${new Date().toISOString().replace('T', ' ').slice(0, 16)} UTC by fmnist.`,
    sections,
  };
  const html = join(outDir, 'report.html');
  const md = join(outDir, 'report.md');
  writeFileAtomic(html, renderHtml(doc));
  writeFileAtomic(md, renderMarkdown(doc));
  return { html, md, figuresDir, figures };
}
