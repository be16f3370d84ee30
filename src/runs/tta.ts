// Test-time augmentation: a model's class probabilities averaged over fixed views of each image (the image, its
// mirror, 1-pixel shifts), and the one averaging rule that TTA and ensembles share. The views are applied to
// whole chunks of images with libtorch tensor ops (viewBatch), never per-pixel JS; libtorch is loaded only then,
// so the list and averageProbs can be imported anywhere.

export interface TtaView {
  /** How the view is named in output and in metrics-tta.json. */
  name: string;
  /** Output pixel (r, c) is input pixel (r + dy, c + dx), zero outside the image (after the flip). */
  dx?: number;
  dy?: number;
  /** Mirror the image left-right, before the shift. */
  flip?: boolean;
}

/**
 * The default views, averaged with equal weight. One list, so that it can be changed after validation.
 * dx: 1 reads the pixel to the right, so the picture moves one pixel left; a flipped view is shifted after the flip.
 */
export const TTA_VIEWS: readonly TtaView[] = Object.freeze([
  { name: 'identity' },
  { name: 'flipped', flip: true },
  { name: 'left 1px', dx: 1 },
  { name: 'right 1px', dx: -1 },
  { name: 'flipped left 1px', flip: true, dx: 1 },
  { name: 'flipped right 1px', flip: true, dx: -1 },
]);

/**
 * The views for a run, from how it was trained: the flipped views only if it trained on flipped images, the
 * shifted ones only if it trained on shifted ones ('crop'), the identity always. A model never shown a mirrored
 * shoe is not asked about one: on the seed recipe's runs (no augmentation) TTA is the plain prediction. Runs from
 * before recipes have no `augment`: they trained on neither.
 */
export function viewsFor(config: { augment?: readonly string[] } | undefined): TtaView[] {
  const augment = config?.augment ?? [];
  return TTA_VIEWS.filter(
    (v) => (!v.flip || augment.includes('flip')) && ((!v.dx && !v.dy) || augment.includes('crop')),
  );
}

/** Images to probabilities: n x 784 floats in [0, 1] to n x 10. A Predictor's `predict`. */
export type ProbsFn = (images: Float32Array, n: number) => Float32Array | Promise<Float32Array>;

/** Images per predict() call in predictViews: bounds the memory of the views, whatever n is. */
export const TTA_CHUNK = 1000;

const isIdentity = (v: TtaView) => !v.flip && !v.dx && !v.dy;

/**
 * The element-wise mean of equally long probability arrays (members of an ensemble, or TTA views), summed in
 * float64 and rounded to float32 once.
 */
export function averageProbs(list: readonly Float32Array[]): Float32Array {
  if (list.length === 0) throw new Error('averageProbs: nothing to average');
  const len = list[0].length;
  const bad = list.findIndex((p) => p.length !== len);
  if (bad >= 0) throw new Error(`averageProbs: array ${bad} has ${list[bad].length} values, array 0 has ${len}`);
  if (list.length === 1) return Float32Array.from(list[0]);
  const sum = new Float64Array(len);
  for (const p of list) for (let i = 0; i < len; i++) sum[i] += p[i];
  const out = new Float32Array(len);
  for (let i = 0; i < len; i++) out[i] = sum[i] / list.length;
  return out;
}

/**
 * The probabilities of every view of n images: one n x 10 array per view, in the order of `views`. Images go
 * through `predict` `chunk` at a time, so memory stays flat for any n.
 */
export async function predictViews(
  predict: ProbsFn,
  images: Float32Array,
  n: number,
  views: readonly TtaView[] = TTA_VIEWS,
  chunk = TTA_CHUNK,
): Promise<Float32Array[]> {
  if (views.length === 0) throw new Error('test-time augmentation needs at least one view');
  if (images.length < n * 784) throw new Error(`predictViews: ${images.length} floats is fewer than ${n} images`);
  const { viewBatch } = await import('../torch/augment.js');
  const out = views.map(() => new Float32Array(n * 10));
  const buf = new Float32Array(Math.min(chunk, n) * 784);
  for (let start = 0; start < n; start += chunk) {
    const m = Math.min(chunk, n - start);
    const x = images.subarray(start * 784, (start + m) * 784);
    for (let v = 0; v < views.length; v++) {
      const input = isIdentity(views[v]) ? x : viewBatch(x, m, views[v], buf.subarray(0, m * 784));
      const p = await predict(input, m);
      if (p.length !== m * 10) throw new Error(`predict gave ${p.length} values for ${m} images, expected ${m * 10}`);
      out[v].set(p, start * 10);
    }
  }
  return out;
}

/** TTA: the mean over `views` of the probabilities of n images (n x 10). */
export async function predictTta(
  predict: ProbsFn,
  images: Float32Array,
  n: number,
  views: readonly TtaView[] = TTA_VIEWS,
  chunk = TTA_CHUNK,
): Promise<Float32Array> {
  return averageProbs(await predictViews(predict, images, n, views, chunk));
}

/** `predict` with TTA applied. */
export const withTta =
  (predict: ProbsFn, views: readonly TtaView[] = TTA_VIEWS): ProbsFn =>
  (images, n) =>
    predictTta(predict, images, n, views);

/** "identity, flip, left 1px, ...": the views' names for output. */
export const viewNames = (views: readonly TtaView[] = TTA_VIEWS) => views.map((v) => v.name).join(', ');

/** Every view in some list, once, in the order first seen (an ensemble's record of its members' TTA). */
export function unionOfViews(lists: readonly (readonly TtaView[])[]): TtaView[] {
  const seen = new Map<string, TtaView>();
  for (const l of lists) for (const v of l) if (!seen.has(v.name)) seen.set(v.name, { ...v });
  return [...seen.values()];
}
