import { Command } from 'commander';
import { FRAMEWORKS } from '../../engines/index.js';
import { runLabel } from '../../runs/labels.js';

export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description(
      'rewrite a trained run folder in the other framework: Keras (model.json + weights.bin, loads in stock tfjs) ' +
        'to PyTorch (model.pt + model.py, loads in Python with load_state_dict(strict=True)) or back. The new folder ' +
        'is a complete run (run.json with provenance, metrics.json and test-probs.bin of the converted model, the ' +
        "source's history.json); it prints both test accuracies and the largest difference in probability",
    )
    .argument('<dir>', 'run folder written by `fmnist train` (not an ensemble)')
    // checked by convertRun, not with commander's choices(): its errors end the process before main() sees them
    .requiredOption('--to <framework>', `the framework to convert to, the other one: ${FRAMEWORKS.join(' or ')}`)
    .requiredOption('--out <dir>', 'the run folder to write (new or empty)')
    .option('--data-dir <dir>', 'use the test data in this folder only')
    .action(async (dir: string, o) => {
      // loaded here, not at the top: it loads libtorch and tfjs, which --help and the other commands do not need
      const { convertRun } = await import('../../runs/convert.js');
      const r = await convertRun(dir, o.to, o.out, { dataDir: o.dataDir });
      const from = r.info.provenance?.framework ?? '?';
      const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
      console.log(`  ${pct(r.sourceAccuracy)}  ${runLabel(from, r.info.model)}  ${r.info.provenance?.source ?? dir}`);
      console.log(`  ${pct(r.accuracy)}  ${runLabel(r.info.framework, r.info.model)}  ${r.dir}`);
      console.log(
        `converted on ${r.count} test images: max |Δp| ${r.maxDiff.toExponential(2)}, test accuracy ` +
          `${pct(r.sourceAccuracy)} → ${pct(r.accuracy)}; wrote ${r.dir}`,
      );
    });
}
