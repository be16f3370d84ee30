import { Command } from 'commander';
import { readFileSync, existsSync } from 'node:fs';
import { loadPredictor, topK } from '../../runs/predictor.js';
import { preprocessImage, toModelInput, ImageError } from '../../imaging/preprocess.js';

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('classify image files (any PNG or JPEG; converted to 28×28 grayscale) with a trained run')
    .argument('<dir>', 'run folder written by `fmnist train` or `fmnist ensemble`')
    .argument('<images...>', 'PNG or JPEG files')
    .option('--json', 'print JSON')
    .action(async (dir: string, files: string[], o) => {
      const inputs = files.map((f) => {
        if (!existsSync(f)) throw new Error(`${f}: file not found`);
        try {
          return preprocessImage(readFileSync(f));
        } catch (e) {
          if (e instanceof ImageError) throw new Error(`${f}: ${e.message}`, { cause: e });
          throw e;
        }
      });
      const p = await loadPredictor(dir);
      try {
        const probs = await p.predict(toModelInput(inputs), inputs.length);
        const out = files.map((file, i) => ({ file, top: topK(probs, i), preprocessing: inputs[i].steps }));
        if (o.json) console.log(JSON.stringify(out, null, 2));
        else
          for (const r of out)
            console.log(
              `${r.file}: ${r.top[0].class}  (${r.top.map((t) => `${t.class} ${(t.probability * 100).toFixed(1)}%`).join(', ')})`,
            );
      } finally {
        p.dispose();
      }
    });
}
