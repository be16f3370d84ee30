// Times the training augmentation on its own: every transform on (crop with 2-px padding, flip, erase at p 0.5)
// over --images images in batches of --batch-size, as the training loop applies it. Prints JSON seconds.
import { parseArgs } from 'node:util';
import { Augmenter } from '../src/torch/augment.js';
import { setNumThreads } from '../src/torch/index.js';

const { values } = parseArgs({
  options: {
    'batch-size': { type: 'string', default: '128' },
    images: { type: 'string', default: '60000' },
    threads: { type: 'string', default: '2' },
  },
});
const batch = Number(values['batch-size']);
const images = Number(values.images);
setNumThreads(Number(values.threads));
const a = new Augmenter({ augment: ['crop', 'flip', 'erase'], cropPad: 2, eraseP: 0.5 }, 1);
const x = new Float32Array(batch * 784).fill(0.5);
a.apply(x, batch); // warm-up
const t0 = performance.now();
for (let done = 0; done < images; done += batch) a.apply(x, Math.min(batch, images - done));
console.log(JSON.stringify({ seconds: (performance.now() - t0) / 1000, images, batch }));
