// Loads the libtorch addon. Only the Tensor layer (src/torch) and the tfjs backend's kernels import this.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Binding } from './addon.js';

function findAddon(): string {
  // Works from src/ (tsx) and from dist/src/ (compiled).
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(dir, 'build', 'Release', 'fmnist_torch.node');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  throw new Error(
    'fmnist: the native addon is not built (build/Release/fmnist_torch.node). Run `npm run build:native`; ' +
      'it needs libtorch: `apt-get install libtorch-dev`, or LIBTORCH=/path, or LIBTORCH_USE_PYTORCH=1.',
  );
}

export const native: Binding = createRequire(import.meta.url)(findAddon());
