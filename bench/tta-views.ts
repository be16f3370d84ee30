// Chooses test-time augmentation views on the VALIDATION split, never on test: for each run folder given, it
// rebuilds the run's own validation split (from its run.json config and seed), predicts every candidate view
// once, and prints the validation accuracy and loss of each view and of each candidate set of views.
//   node --import tsx bench/tta-views.ts runs/pytorch-resnet [more run folders]
import { loadPredictor } from '../src/runs/predictor.js';
import { readRun } from '../src/runs/files.js';
import { makeConfig } from '../src/runs/config.js';
import { prepareData } from '../src/train/prepare.js';
import { averageProbs, predictViews, TTA_VIEWS, type TtaView } from '../src/runs/tta.js';

const VIEWS: TtaView[] = [
  { name: 'identity' },
  { name: 'flipped', flip: true },
  { name: 'left 1px', dx: 1 },
  { name: 'right 1px', dx: -1 },
  { name: 'up 1px', dy: 1 },
  { name: 'down 1px', dy: -1 },
  { name: 'flipped left 1px', flip: true, dx: 1 },
  { name: 'flipped right 1px', flip: true, dx: -1 },
  { name: 'flipped up 1px', flip: true, dy: 1 },
  { name: 'flipped down 1px', flip: true, dy: -1 },
];
const SETS: Record<string, string[]> = {
  plain: ['identity'],
  'identity + flip': ['identity', 'flipped'],
  'default (TTA_VIEWS)': TTA_VIEWS.map((v) => v.name),
  'x and y shifts, no flip': ['identity', 'left 1px', 'right 1px', 'up 1px', 'down 1px'],
  'all 10': VIEWS.map((v) => v.name),
};

function score(p: Float32Array, labels: Uint8Array, n: number) {
  let correct = 0;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    let arg = 0;
    for (let c = 1; c < 10; c++) if (p[i * 10 + c] > p[i * 10 + arg]) arg = c;
    if (arg === labels[i]) correct++;
    loss -= Math.log(Math.max(1e-7, p[i * 10 + labels[i]]));
  }
  return { accuracy: correct / n, loss: loss / n };
}

for (const dir of process.argv.slice(2)) {
  const { info } = readRun(dir);
  const c = info.config;
  const data = await prepareData(
    makeConfig({ model: c.model, seed: c.seed, valSplit: c.valSplit, limit: c.limit, dataDir: c.dataDir }),
  );
  if (!data.val) throw new Error(`${dir}: the run has no validation split (valSplit 0)`);
  const p = await loadPredictor(dir);
  try {
    const probs = await predictViews(p.predict, data.val.images, data.val.count, VIEWS);
    const byName = new Map(VIEWS.map((v, i) => [v.name, probs[i]]));
    console.log(`${dir} (${info.framework} ${info.model}), ${data.val.count} validation images`);
    for (const v of VIEWS) {
      const s = score(byName.get(v.name)!, data.val.labels, data.val.count);
      console.log(`  view ${v.name.padEnd(20)} acc ${s.accuracy.toFixed(4)}  loss ${s.loss.toFixed(4)}`);
    }
    for (const [name, views] of Object.entries(SETS)) {
      const s = score(averageProbs(views.map((v) => byName.get(v)!)), data.val.labels, data.val.count);
      console.log(`  set  ${name.padEnd(24)} acc ${s.accuracy.toFixed(4)}  loss ${s.loss.toFixed(4)}`);
    }
  } finally {
    p.dispose();
  }
}
