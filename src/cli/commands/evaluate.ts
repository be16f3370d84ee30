import { Command } from 'commander';
import { loadPredictor } from '../../runs/predictor.js';
import { loadFashionMnist, CLASS_NAMES } from '../../data/index.js';
import { evaluateProbs, type Evaluation } from '../../runs/metrics.js';
import { formatTable } from '../table.js';

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

export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description('reload a run folder, evaluate it on the test set and print its metrics')
    .argument('<dir>', 'run folder written by `fmnist train`')
    .option('--data-dir <dir>', 'use the data in this folder only')
    .option('--json', 'print the metrics as JSON')
    .action(async (dir: string, o) => {
      const p = await loadPredictor(dir);
      try {
        const fm = await loadFashionMnist({ dataDir: o.dataDir });
        const probs = await p.predict(fm.test.images, fm.test.count);
        const { predicted: _p, confidence: _c, ...ev } = evaluateProbs(probs, fm.test.labels, CLASS_NAMES);
        if (o.json) {
          console.log(
            JSON.stringify({ framework: p.info.framework, model: p.info.model, params: p.info.params, ...ev }, null, 2),
          );
        } else {
          const title = `${p.info.framework} ${p.info.model} (${p.info.params.toLocaleString('en-US')} parameters) from ${dir}, on ${fm.test.count} test images`;
          console.log(formatEvaluation(title, ev));
        }
      } finally {
        p.dispose();
      }
    });
}
