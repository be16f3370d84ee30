// Times loadFashionMnist() (find + read + gunzip + SHA-256 + convert, all 70,000 images): median of 3.
import { loadFashionMnist } from '../src/data/index.js';

const runs = 3;
const times: number[] = [];
let verified = false;
let count = 0;
for (let i = 0; i < runs; i++) {
  const start = performance.now();
  const fm = await loadFashionMnist({ quiet: true });
  times.push(performance.now() - start);
  verified = fm.verified;
  count = fm.train.count + fm.test.count;
}
times.sort((a, b) => a - b);
const median = times[Math.floor(runs / 2)];
console.log(
  `loadFashionMnist: ${count} images, verified=${verified}, median ${median.toFixed(0)} ms ` +
    `(runs: ${times.map((t) => t.toFixed(0)).join(', ')} ms)`,
);
