// `fmnist data`: where the dataset is, whether it verifies, and what it holds.
import type { Command } from 'commander';
import {
  CLASS_NAMES,
  classCounts,
  loadFashionMnist,
  pixelStats,
  writeSampleGrid,
  type DataSource,
  type FashionMnist,
} from '../../data/index.js';

interface DataCommandOptions {
  dataDir?: string;
  verify: boolean;
  grid?: string;
  json?: boolean;
}

const ORIGIN_TEXT: Record<DataSource['origin'], string> = {
  flag: 'from --data-dir',
  env: 'from FASHION_MNIST_DIR',
  system: 'system copy',
  cache: 'user cache',
  download: 'downloaded into the user cache',
};

export interface DataSummary {
  dir: string;
  origin: DataSource['origin'];
  searched: string[];
  files: string[];
  verified: boolean;
  loadSeconds: number;
  classes: { label: number; name: string; train: number; test: number }[];
  train: { count: number; pixelMean: number; pixelStd: number };
  test: { count: number };
  grid?: string;
}

export function summarize(fm: FashionMnist, loadSeconds: number): DataSummary {
  const train = classCounts(fm.train.labels);
  const test = classCounts(fm.test.labels);
  const { mean, std } = pixelStats(fm.train);
  return {
    dir: fm.source.dir,
    origin: fm.source.origin,
    searched: fm.source.searched,
    files: Object.values(fm.source.files),
    verified: fm.verified,
    loadSeconds,
    classes: CLASS_NAMES.map((name, label) => ({ label, name, train: train[label], test: test[label] })),
    train: { count: fm.train.count, pixelMean: mean, pixelStd: std },
    test: { count: fm.test.count },
  };
}

export function formatSummary(s: DataSummary): string {
  const lines = [
    `Data:      ${s.dir} (${ORIGIN_TEXT[s.origin]})`,
    `Searched:  ${s.searched.join(', ')}`,
    `Verified:  ${s.verified ? 'yes, SHA-256 of all 4 files matches the official Fashion-MNIST' : 'no (--no-verify)'}`,
    `Loaded in: ${s.loadSeconds.toFixed(2)} s`,
    '',
  ];
  const rows = [
    ['class', 'train', 'test'],
    ...s.classes.map((c) => [`${c.label} ${c.name}`, String(c.train), String(c.test)]),
    ['total', String(s.train.count), String(s.test.count)],
  ];
  const widths = [0, 1, 2].map((col) => Math.max(...rows.map((r) => r[col].length)));
  for (const [name, train, test] of rows) {
    lines.push(`  ${name.padEnd(widths[0])}  ${train.padStart(widths[1])}  ${test.padStart(widths[2])}`);
  }
  lines.push(
    '',
    `Train pixels (scaled to [0,1]): mean ${s.train.pixelMean.toFixed(4)}, std ${s.train.pixelStd.toFixed(4)}`,
  );
  if (s.grid) lines.push(`Sample grid: ${s.grid}`);
  return `${lines.join('\n')}\n`;
}

export function registerData(program: Command): void {
  program
    .command('data')
    .description('find, verify and summarize the Fashion-MNIST data (downloads it into the cache if needed)')
    .option('--data-dir <dir>', 'use only this folder (also: env FASHION_MNIST_DIR)')
    .option('--no-verify', 'skip the SHA-256 check of the files')
    .option('--grid <out.png>', 'write a PNG with 10 sample images per class')
    .option('--json', 'print the summary as JSON')
    .action(async (opts: DataCommandOptions) => {
      const started = performance.now();
      const fm = await loadFashionMnist({ dataDir: opts.dataDir, verify: opts.verify });
      const summary = summarize(fm, (performance.now() - started) / 1000);
      if (opts.grid) {
        writeSampleGrid(fm, opts.grid);
        summary.grid = opts.grid;
      }
      process.stdout.write(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
    });
}
