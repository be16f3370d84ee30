import { Command, Option } from 'commander';
import { mkdirSync } from 'node:fs';
import { makeConfig, type TrainConfig } from '../../runs/config.js';
import { prepareData } from '../../train/prepare.js';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`expected an integer, got '${v}'`);
  return n;
};
const float = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`expected a number, got '${v}'`);
  return n;
};

export async function runTraining(cfg: TrainConfig, log: (s: string) => void = console.log) {
  mkdirSync(cfg.out, { recursive: true });
  const data = await prepareData(cfg);
  if (cfg.framework === 'pytorch') {
    const { trainPytorch } = await import('../../train/pytorch.js');
    return trainPytorch(cfg, data, log);
  }
  const { trainKeras } = await import('../../train/keras.js');
  return trainKeras(cfg, data, log);
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train one model and write its run folder (model, run.json, history.json, metrics.json)')
    .addOption(
      new Option('--framework <name>', 'which implementation').choices(['pytorch', 'keras']).default('pytorch'),
    )
    .addOption(new Option('--model <arch>', 'which network').choices(['dense', 'cnn']).default('cnn'))
    .option('--epochs <n>', 'most epochs to run (default 20; early stopping may end sooner)', int)
    .option('--batch-size <n>', 'mini-batch size (default 64)', int)
    .option('--lr <x>', 'Adam learning rate (default 0.001)', float)
    .addOption(
      new Option('--lr-schedule <name>', 'learning-rate schedule over the epochs (default cosine)').choices([
        'cosine',
        'constant',
      ]),
    )
    .option('--seed <n>', 'random seed for split, shuffling, init and dropout (default 42)', int)
    .option('--val-split <f>', 'fraction held out for validation; 0 = train on all 60,000 (default 0.1)', float)
    .option('--patience <n>', 'early-stopping patience in epochs; 0 = off (default 5)', int)
    .option('--threads <n>', 'libtorch threads (default: number of cores)', int)
    .option('--data-dir <dir>', 'use the data in this folder only')
    .option('--limit <n>', 'use only the first N training images (for quick tries)', int)
    .option('--test-limit <n>', 'use only the first N test images', int)
    .option('--out <dir>', 'run folder (default runs/<framework>-<model>)')
    .action(async (o) => {
      const cfg = makeConfig({
        framework: o.framework,
        model: o.model,
        epochs: o.epochs,
        batchSize: o.batchSize,
        lr: o.lr,
        lrSchedule: o.lrSchedule,
        seed: o.seed,
        valSplit: o.valSplit,
        patience: o.patience,
        threads: o.threads,
        dataDir: o.dataDir,
        limit: o.limit,
        testLimit: o.testLimit,
        out: o.out,
      });
      await runTraining(cfg);
    });
}
