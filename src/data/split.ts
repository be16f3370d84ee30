// Seeded randomness, stratified train/validation split and a mini-batch iterator.
import { RandomStream } from '../util/random.js';
import { PIXELS_PER_IMAGE } from './files.js';
import type { Split } from './convert.js';

/** mulberry32: a tiny 32-bit PRNG, good enough for shuffling and identical on every platform. */
export function mulberry32(seed: number): () => number {
  const r = new RandomStream(seed);
  return () => r.next();
}

/** Fisher-Yates shuffle in place. */
export function shuffleInPlace(values: Int32Array, random: () => number): Int32Array {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const tmp = values[i];
    values[i] = values[j];
    values[j] = tmp;
  }
  return values;
}

function checkSeed(seed: number): void {
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
}

/**
 * Per-class random split. The validation size is round(n*valFraction), shared out among classes by
 * largest remainder so each class is within one example of its exact share. Both index lists come back sorted.
 */
export function stratifiedSplit(
  labels: Uint8Array,
  valFraction: number,
  seed: number,
): { train: Int32Array; val: Int32Array } {
  if (!(valFraction >= 0 && valFraction < 1)) throw new RangeError(`valFraction must be in [0, 1), got ${valFraction}`);
  checkSeed(seed);
  const n = labels.length;
  let numClasses = 0;
  for (let i = 0; i < n; i++) numClasses = Math.max(numClasses, labels[i] + 1);

  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < n; i++) byClass[labels[i]].push(i);

  const exact = byClass.map((members) => members.length * valFraction);
  const valPerClass = exact.map(Math.floor);
  let remaining = Math.round(n * valFraction) - valPerClass.reduce((a, b) => a + b, 0);
  // Ties go to the lower class index so the result depends only on the inputs.
  const byRemainder = exact.map((e, c) => ({ c, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.c - b.c);
  for (const { c } of byRemainder) {
    if (remaining <= 0) break;
    if (valPerClass[c] < byClass[c].length) {
      valPerClass[c]++;
      remaining--;
    }
  }

  const random = mulberry32(seed);
  const isVal = new Uint8Array(n);
  for (let c = 0; c < numClasses; c++) {
    const members = shuffleInPlace(Int32Array.from(byClass[c]), random);
    for (let k = 0; k < valPerClass[c]; k++) isVal[members[k]] = 1;
  }
  const valCount = valPerClass.reduce((a, b) => a + b, 0);
  const train = new Int32Array(n - valCount);
  const val = new Int32Array(valCount);
  for (let i = 0, t = 0, v = 0; i < n; i++) {
    if (isVal[i]) val[v++] = i;
    else train[t++] = i;
  }
  return { train, val };
}

/** A new Split holding copies of the chosen examples, in the order given. */
export function subset(split: Split, indices: Int32Array): Split {
  const images = new Float32Array(indices.length * PIXELS_PER_IMAGE);
  const labels = new Uint8Array(indices.length);
  gatherBatch(split, indices, images, labels);
  return { images, labels, count: indices.length };
}

/**
 * Copies the examples at `indices` into `images`/`labels` (reusable batch buffers, at least as large as
 * the batch), so training loops need no allocation per step.
 */
export function gatherBatch(split: Split, indices: Int32Array, images: Float32Array, labels: Uint8Array): void {
  if (images.length < indices.length * PIXELS_PER_IMAGE || labels.length < indices.length) {
    throw new RangeError(`batch buffers are too small for ${indices.length} examples`);
  }
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!(i >= 0 && i < split.count)) throw new RangeError(`index ${i} out of range 0-${split.count - 1}`);
    images.set(split.images.subarray(i * PIXELS_PER_IMAGE, (i + 1) * PIXELS_PER_IMAGE), k * PIXELS_PER_IMAGE);
    labels[k] = split.labels[i];
  }
}

/**
 * Shuffled mini-batches over a fixed set of example indices. One permutation buffer is reshuffled in
 * place each epoch and batches are subarray views of it, so a batch is only valid until the next epoch.
 */
export class BatchIterator {
  readonly numBatches: number;
  readonly size: number;
  private readonly order: Int32Array;
  private readonly random: RandomStream;
  private epochsStarted = 0;

  constructor(
    indices: Int32Array | number,
    readonly batchSize: number,
    seed: number,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    }
    checkSeed(seed);
    if (typeof indices === 'number') {
      if (!Number.isInteger(indices) || indices < 0) throw new RangeError(`count must be >= 0, got ${indices}`);
      this.order = new Int32Array(indices);
      for (let i = 0; i < indices; i++) this.order[i] = i;
    } else {
      // Copy so shuffling never disturbs the caller's array.
      this.order = Int32Array.from(indices);
    }
    this.size = this.order.length;
    this.numBatches = Math.ceil(this.size / batchSize);
    this.random = new RandomStream(seed);
  }

  /** How many times epoch() has been called. */
  get epochs(): number {
    return this.epochsStarted;
  }

  /**
   * One epoch's batches. `fromBatch` > 0 continues the epoch that was under way when state() was taken (a
   * checkpoint written mid-epoch): no new shuffle, and the batches already done are skipped.
   */
  *epoch(fromBatch = 0): Generator<Int32Array> {
    if (fromBatch === 0) {
      this.epochsStarted++;
      shuffleInPlace(this.order, () => this.random.next());
    }
    for (let start = fromBatch * this.batchSize; start < this.size; start += this.batchSize) {
      yield this.order.subarray(start, Math.min(this.size, start + this.batchSize));
    }
  }

  /** What a checkpoint needs to continue the same sequence of batches: the current order and the stream. */
  state(): { order: Int32Array; random: number; epochs: number } {
    return { order: Int32Array.from(this.order), random: this.random.state, epochs: this.epochsStarted };
  }

  restore(s: { order: Int32Array; random: number; epochs: number }): void {
    if (s.order.length !== this.size)
      throw new Error(`the saved data order has ${s.order.length} entries, but this split has ${this.size} images`);
    // a permutation of the same indices, or the batches would read other images (or none)
    const a = Int32Array.from(s.order).sort();
    const b = Int32Array.from(this.order).sort();
    if (a.some((v, i) => v !== b[i]))
      throw new Error(`the saved data order is not a permutation of this split's ${this.size} images`);
    this.order.set(s.order);
    this.random.state = s.random;
    this.epochsStarted = s.epochs;
  }
}
