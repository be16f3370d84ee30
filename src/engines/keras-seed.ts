// tfjs draws every unseeded random number (initializers, dropout masks, fit's shuffling) from
// Math.random. Swapping in a seeded generator for the length of a training run makes Keras
// runs repeatable for a given --seed, as the PyTorch ones are; its state is what a checkpoint stores.
import { RandomStream } from '../util/random.js';

let current: RandomStream | null = null;

export async function withSeededMathRandom<T>(seed: number, fn: () => Promise<T>): Promise<T> {
  const original = Math.random;
  const saved = current;
  const stream = (current = new RandomStream(seed ^ 0x5eed));
  Math.random = () => stream.next();
  try {
    return await fn();
  } finally {
    Math.random = original;
    current = saved;
  }
}

/** The seeded Math.random's state, inside withSeededMathRandom (null outside it). */
export const seededRandomState = (): number | null => current?.state ?? null;

export function setSeededRandomState(state: number): void {
  if (!current) throw new Error('keras: Math.random is not seeded here (not inside a training run)');
  current.state = state;
}
