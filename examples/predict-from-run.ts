// A run folder from `fmnist train` (either framework), loaded and used for prediction.
// Run: npx fmnist train --model dense --epochs 1 --out runs/example && npx tsx examples/predict-from-run.ts runs/example
import { CLASS_NAMES, loadFashionMnist, loadPredictor, topK } from 'fmnist';

const dir = process.argv[2] ?? 'runs/pytorch-cnn';
const predictor = await loadPredictor(dir);
console.log(`${dir}: ${predictor.info.framework} ${predictor.info.model}, ${predictor.info.params} parameters`);

const { test } = await loadFashionMnist({ quiet: true });
const n = 5;
const probs = await predictor.predict(test.images.subarray(0, n * 784), n);
for (let i = 0; i < n; i++) {
  const top = topK(probs, i, 3)
    .map((t) => `${t.class} ${(100 * t.probability).toFixed(1)}%`)
    .join(', ');
  console.log(`image ${i} (truly ${CLASS_NAMES[test.labels[i]]}): ${top}`);
}
predictor.dispose();
