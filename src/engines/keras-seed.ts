// tfjs draws every unseeded random number (initializers, dropout masks, fit's shuffling) from
// Math.random. Swapping in a seeded generator for the length of a training run makes Keras
// runs repeatable for a given --seed, as the PyTorch ones are.
import { mulberry32 } from '../data/index.js';

export async function withSeededMathRandom<T>(seed: number, fn: () => Promise<T>): Promise<T> {
  const original = Math.random;
  Math.random = mulberry32(seed ^ 0x5eed);
  try {
    return await fn();
  } finally {
    Math.random = original;
  }
}
