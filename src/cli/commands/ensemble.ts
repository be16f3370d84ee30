import { Command } from 'commander';
import { buildEnsemble } from '../../runs/ensemble.js';
import { ensembleLabel } from '../../runs/labels.js';
import { viewNames } from '../../runs/tta.js';

export function registerEnsemble(program: Command): void {
  program
    .command('ensemble')
    .description(
      'average the class probabilities of two or more runs (either framework, mixed) and write the result as a run ' +
        'folder (run.json, metrics.json, test-probs.bin) that evaluate, predict and serve load like any run',
    )
    .argument('<dirs...>', 'run folders written by `fmnist train`, evaluated on the same test images (at least 2)')
    .requiredOption('--out <dir>', 'the ensemble folder to write (new, empty, or an earlier ensemble, replaced)')
    .option('--tta', `also average each member over test-time views (${viewNames()}); predict and serve do too`)
    .option('--data-dir <dir>', 'use the data in this folder only')
    .action(async (dirs: string[], o) => {
      const r = await buildEnsemble({ dirs, out: o.out, tta: !!o.tta, dataDir: o.dataDir, log: console.log });
      const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
      for (const [i, m] of (r.info.members ?? []).entries())
        console.log(`  ${pct(r.memberAccuracy[i])}  ${m.framework} ${m.model}  ${m.dir}`);
      console.log(
        `${ensembleLabel(r.info)}: test accuracy ${pct(r.metrics.testAccuracy)}, loss ${r.metrics.testLoss.toFixed(4)}, ` +
          `ECE ${r.metrics.ece.toFixed(4)} on ${r.info.data.testCount} test images; wrote ${r.dir}`,
      );
    });
}
