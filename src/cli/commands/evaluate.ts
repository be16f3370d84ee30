import { Command } from 'commander';
import { join } from 'node:path';
import { loadPredictor, type Predictor } from '../../runs/predictor.js';
import { loadFashionMnist, CLASS_NAMES } from '../../data/index.js';
import { evaluateProbs, type Evaluation } from '../../runs/metrics.js';
import {
  METRICS_TTA_JSON,
  isEnsemble,
  readRun,
  refreshChecksums,
  testFields,
  testMetrics,
  writeMetrics,
  type MetricsJson,
} from '../../runs/files.js';
import { ensembleLabel } from '../../runs/labels.js';
import { formatTable } from '../table.js';
import type { TtaView } from '../../runs/tta.js';

export function formatEvaluation(title: string, ev: Evaluation): string {
  const lines = [
    title,
    `accuracy ${ev.accuracy.toFixed(4)}   loss ${ev.loss.toFixed(4)}   ECE ${ev.ece.toFixed(4)}`,
    '',
  ];
  const short = CLASS_NAMES.map((n) => n.split('/')[0].slice(0, 7));
  lines.push('confusion matrix (rows: true class, columns: predicted)');
  lines.push(
    formatTable(
      ['', ...short],
      ev.confusionMatrix.map((row, i) => [CLASS_NAMES[i], ...row.map(String)]),
    ),
  );
  lines.push('');
  const f = (x: number) => x.toFixed(3);
  lines.push(
    formatTable(
      ['class', 'precision', 'recall', 'f1', 'support'],
      [
        ...ev.perClass.map((c) => [c.name, f(c.precision), f(c.recall), f(c.f1), String(c.support)]),
        ['macro avg', f(ev.macro.precision), f(ev.macro.recall), f(ev.macro.f1), ''],
        ['weighted avg', f(ev.weighted.precision), f(ev.weighted.recall), f(ev.weighted.f1), ''],
      ],
    ),
  );
  return lines.join('\n');
}

/** Plain and TTA metrics side by side, then the TTA result's confusion matrix. */
export function formatComparison(title: string, plain: Evaluation, tta: Evaluation): string {
  const f4 = (x: number) => x.toFixed(4);
  const d4 = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(4)}`;
  const lines = [
    title,
    '',
    formatTable(
      ['', 'plain', 'TTA', 'change'],
      [
        ['accuracy', f4(plain.accuracy), f4(tta.accuracy), d4(tta.accuracy - plain.accuracy)],
        ['loss', f4(plain.loss), f4(tta.loss), d4(tta.loss - plain.loss)],
        ['ECE', f4(plain.ece), f4(tta.ece), d4(tta.ece - plain.ece)],
      ],
    ),
    '',
  ];
  const f = (x: number) => x.toFixed(3);
  const row = (name: string, a: { precision: number; recall: number; f1: number }, b: typeof a, support: string) => [
    name,
    f(a.precision),
    f(b.precision),
    f(a.recall),
    f(b.recall),
    f(a.f1),
    f(b.f1),
    support,
  ];
  lines.push(
    formatTable(
      ['class', 'precision', 'TTA', 'recall', 'TTA', 'f1', 'TTA', 'support'],
      [
        ...plain.perClass.map((c, i) => row(c.name, c, tta.perClass[i], String(c.support))),
        row('macro avg', plain.macro, tta.macro, ''),
        row('weighted avg', plain.weighted, tta.weighted, ''),
      ],
    ),
  );
  lines.push('');
  const short = CLASS_NAMES.map((n) => n.split('/')[0].slice(0, 7));
  lines.push('confusion matrix with TTA (rows: true class, columns: predicted)');
  lines.push(
    formatTable(
      ['', ...short],
      tta.confusionMatrix.map((r, i) => [CLASS_NAMES[i], ...r.map(String)]),
    ),
  );
  return lines.join('\n');
}

const count = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`expected a whole number, got '${v}'`);
  return n;
};

const describe = (p: Predictor) => ({ framework: p.info.framework, model: p.info.model, params: p.info.params });

export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description(
      'reload a run folder (or an ensemble folder), evaluate it on the test set and print its metrics; ' +
        `with --tta also with test-time augmentation, written to ${METRICS_TTA_JSON} in the folder`,
    )
    .argument('<dir>', 'run folder written by `fmnist train` or `fmnist ensemble`')
    .option('--data-dir <dir>', 'use the data in this folder only')
    .option('--test-limit <n>', 'evaluate on the first n test images only (default: all)', count)
    .option(
      '--tta',
      'also average each prediction over test-time views (identity, flip, 1-pixel shifts), print both side by side ' +
        `and write ${METRICS_TTA_JSON}`,
    )
    .option('--json', 'print the metrics as JSON (with --tta: {"plain": ..., "tta": ...})')
    .action(async (dir: string, o) => {
      // With --tta the folder is loaded without its own TTA (an ensemble's), to compare plain with TTA.
      const p = await loadPredictor(dir, o.tta ? { tta: false } : {});
      try {
        const fm = await loadFashionMnist({ dataDir: o.dataDir });
        const n = o.testLimit ? Math.min(o.testLimit, fm.test.count) : fm.test.count;
        const images = fm.test.images.subarray(0, n * 784);
        const labels = fm.test.labels.subarray(0, n);
        const label = isEnsemble(p.info)
          ? ensembleLabel({ ...p.info, tta: !o.tta && p.info.tta })
          : `${p.info.framework} ${p.info.model}`;
        const title = `${label} (${p.info.params.toLocaleString('en-US')} parameters) from ${dir}, on ${n} test images`;
        if (!o.tta) {
          const probs = await p.predict(images, n);
          const { predicted: _p, confidence: _c, ...ev } = evaluateProbs(probs, labels, CLASS_NAMES);
          if (o.json) console.log(JSON.stringify({ ...describe(p), ...ev }, null, 2));
          else console.log(formatEvaluation(title, ev));
          return;
        }
        const { averageProbs, predictViews, unionOfViews, viewNames, viewsFor } = await import('../../runs/tta.js');
        let plainProbs: Float32Array;
        let ttaProbs: Float32Array;
        let used: TtaView[];
        if (isEnsemble(p.info)) {
          // each member over its own views (loadPredictor with tta), against the plain ensemble
          used = unionOfViews((p.info.members ?? []).map((m) => viewsFor(readRun(m.dir).info.config)));
          plainProbs = await p.predict(images, n);
          const q = await loadPredictor(dir, { tta: true });
          try {
            ttaProbs = await q.predict(images, n);
          } finally {
            q.dispose();
          }
        } else {
          used = viewsFor(p.info.config);
          const views = await predictViews((x, m) => p.predict(x, m), images, n, used);
          plainProbs = views[0]; // viewsFor starts with the identity
          ttaProbs = averageProbs(views);
        }
        const { predicted: _p, confidence: _c, ...plain } = evaluateProbs(plainProbs, labels, CLASS_NAMES);
        const { predicted: _q, confidence: _d, ...tta } = evaluateProbs(ttaProbs, labels, CLASS_NAMES);
        const ttaInfo = { views: used.map((v) => ({ ...v })) };
        // metrics.json's training fields (time, epochs, validation) with the TTA test results.
        const run = readRun(dir);
        const base: MetricsJson =
          run.metrics ??
          testMetrics(run.info, run.history, run.history.at(-1)?.epoch ?? 0, ttaProbs, labels, CLASS_NAMES);
        writeMetrics(dir, { ...base, ...testFields(tta), tta: ttaInfo }, METRICS_TTA_JSON);
        refreshChecksums(dir, METRICS_TTA_JSON);
        if (o.json)
          console.log(
            JSON.stringify(
              { plain: { ...describe(p), ...plain }, tta: { ...describe(p), ...tta, ...ttaInfo } },
              null,
              2,
            ),
          );
        else {
          console.log(
            formatComparison(
              `${title}; TTA: mean of ${used.length} view${used.length === 1 ? '' : 's'} (${viewNames(used)})`,
              plain,
              tta,
            ),
          );
          if (used.length === 1)
            console.log(
              '\nthis run trained without flips or shifts, so its only test-time view is the image itself: TTA equals the plain result',
            );
          console.log(`\nwrote ${join(dir, METRICS_TTA_JSON)}`);
        }
      } finally {
        p.dispose();
      }
    });
}
