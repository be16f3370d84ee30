import { Command } from 'commander';
import { MODEL_IDS } from '../../models/index.js';
import { importStateDict } from '../../runs/import.js';

const count = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`expected a whole number, got '${v}'`);
  return n;
};

const EXAMPLE = `
Only state dicts load: tensors in a dict or an OrderedDict, in torch.save's zip format or the legacy one
(_use_new_zipfile_serialization=False). The file is parsed, never run: it may name only tensors, storages,
OrderedDict and primitives (the globals of PyTorch's weights_only=True), so a whole pickled model
(torch.save(model)) or any other object is refused. The keys must match the architecture's exactly.

Example. In Python, with the architecture of \`fmnist models\` (each run's model.py is one):
  exec(open("model.py").read()); model = build()    # then train it
  torch.save(model.state_dict(), "m.pt")
Then:
  fmnist import m.pt --model cnn --out runs/imported-cnn
  fmnist evaluate runs/imported-cnn`;

export function registerImport(program: Command): void {
  program
    .command('import')
    .description(
      'turn a state_dict saved by Python PyTorch into a run folder (model.pt, model.py, run.json, metrics.json, ' +
        'test-probs.bin) that evaluate, predict, serve and ensemble load like any run',
    )
    .argument('<file>', 'the .pt file: torch.save(model.state_dict(), "m.pt")')
    .requiredOption('--model <id>', `the architecture the weights are for (${MODEL_IDS.join(', ')})`)
    .requiredOption('--out <dir>', 'the run folder to write (new, or an empty folder)')
    .option('--data-dir <dir>', 'use the data in this folder only')
    .option('--test-limit <n>', 'evaluate on the first n test images only (default: all)', count)
    .addHelpText('after', EXAMPLE)
    .action(async (file: string, o) => {
      const r = await importStateDict({
        file,
        model: o.model,
        out: o.out,
        dataDir: o.dataDir,
        testLimit: o.testLimit,
      });
      const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
      console.log(
        `read ${file} (${r.format} format, ${r.container === 'OrderedDict' ? 'an OrderedDict' : 'a dict'} of ` +
          `${r.info.params.toLocaleString('en-US')} parameters) as pytorch ${r.info.model}: test accuracy ` +
          `${pct(r.metrics.testAccuracy)}, loss ${r.metrics.testLoss.toFixed(4)} on ${r.info.data.testCount} test ` +
          `images; wrote ${r.dir}`,
      );
    });
}
