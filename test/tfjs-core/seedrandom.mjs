// seedrandom (CommonJS) with named exports, for tfjs-core's `import * as seedrandom from 'seedrandom'` (see hooks.mjs).
import { createRequire } from 'node:module';

const seedrandom = createRequire(import.meta.url)('seedrandom');
export default seedrandom;
export const { alea, xor128, xorwow, xorshift7, xor4096, tychei } = seedrandom;
