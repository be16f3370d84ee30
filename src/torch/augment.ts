// Augmentation of whole batches with tensor ops (libtorch), never per-pixel JS: the training loop augments the
// gathered Float32Array batch before the engine sees it, so both frameworks train on the same pixels. Only the
// per-image parameters (a shift, a flip, an erase rectangle: a handful of numbers per image) are drawn in JS,
// from a seeded stream whose state is one integer. Test-time augmentation uses the same transform with fixed
// parameters (viewBatch). Layer 3, over the Tensor API.
import { RandomStream } from '../util/random.js';
export { RandomStream };
import * as torch from './index.js';

export const AUGMENTATIONS = ['crop', 'flip', 'erase'] as const;
export type Augmentation = (typeof AUGMENTATIONS)[number];

export interface AugmentOptions {
  /** Which transforms, applied in this order: translate (crop after zero padding), flip, erase. */
  augment: readonly Augmentation[];
  /** Largest shift in pixels for 'crop' (pad by N, crop 28x28 at a random offset). */
  cropPad: number;
  /** Probability that 'erase' blanks a random rectangle of an image (random erasing, Zhong et al. 2017). */
  eraseP: number;
}

/** Per-image transform parameters for n images. */
export interface Views {
  /** Shift in pixels: output pixel (r, c) is input pixel (r + dy, c + dx), zero outside the image. */
  dx: Int32Array;
  dy: Int32Array;
  /** 1 mirrors the image left-right (before the shift). */
  flip: Uint8Array;
  /** 4 per image, [y0, x0, y1, x1): the rectangle set to 0 (background) after the shift; y1 = y0 for none. */
  erase: Int32Array;
}

export function emptyViews(n: number): Views {
  return { dx: new Int32Array(n), dy: new Int32Array(n), flip: new Uint8Array(n), erase: new Int32Array(4 * n) };
}

/**
 * Applies `v` to images (n x 784 floats, row-major 28x28), writing into `out` (default: in place). One
 * gather (index_select) does shift and flip together; erase is one multiply by a mask built from broadcasts.
 */
export function applyViews(images: Float32Array, n: number, v: Views, out: Float32Array = images): void {
  let pad = 0;
  for (let i = 0; i < n; i++) pad = Math.max(pad, Math.abs(v.dx[i]), Math.abs(v.dy[i]));
  if (pad >= 28) throw new RangeError(`augment: shift ${pad} must be < 28 pixels`);
  const W = 28 + 2 * pad;
  const result = torch.noGrad(() =>
    torch.tidy(() => {
      // index arithmetic in float32: exact for these integers (< 2^24), and only the final index is int64
      const col = (a: Int32Array | Uint8Array) => torch.fromTypedArray(Float32Array.from(a.subarray(0, n)), [n, 1, 1]);
      const x = torch.fromTypedArray(images.subarray(0, n * 784), [n, 28, 28]);
      const padded = (pad ? torch.nn.functional.pad(x, [pad, pad, pad, pad]) : x).reshape(n * W * W);
      const r = torch.arange(0, 28, 1, 'float32').view(1, 28, 1);
      const c = torch.arange(0, 28, 1, 'float32').view(1, 1, 28);
      const f = col(v.flip);
      // source row and column in the padded image: shift(flip(x))(r, c) = x(r + dy, 27 - (c + dx)) when flipped
      const srcR = r.add(col(v.dy)).add(pad);
      const srcC = c.add(col(v.dx)).mul(f.mul(-2).add(1)).add(f.mul(27)).add(pad);
      const base = torch
        .arange(0, n, 1, 'float32')
        .mul(W * W)
        .view(n, 1, 1);
      const index = base
        .add(srcR.mul(W))
        .add(srcC)
        .reshape(n * 784)
        .to('int64');
      let y = padded.indexSelect(0, index).view(n, 28, 28);
      let any = false;
      for (let i = 0; i < n && !any; i++) any = v.erase[4 * i + 2] > v.erase[4 * i];
      if (any) {
        const corner = (k: number) => col(Int32Array.from({ length: n }, (_, i) => v.erase[4 * i + k]));
        const [y0, x0, y1, x1] = [0, 1, 2, 3].map(corner);
        // for integers: clamp(a - b + 1, 0, 1) is [a >= b], clamp(b - a, 0, 1) is [a < b]
        const inRows = r.sub(y0).add(1).clamp(0, 1).mul(y1.sub(r).clamp(0, 1));
        const inCols = c.sub(x0).add(1).clamp(0, 1).mul(x1.sub(c).clamp(0, 1));
        const keep = inRows.mul(inCols).neg().add(1);
        y = y.mul(keep);
      }
      return y.toFloat32();
    }),
  );
  out.set(result);
}

/** The same fixed view for a whole batch: what test-time augmentation applies. */
export function viewBatch(
  images: Float32Array,
  n: number,
  view: { dx?: number; dy?: number; flip?: boolean },
  out: Float32Array = new Float32Array(n * 784),
): Float32Array {
  const v = emptyViews(n);
  v.dx.fill(view.dx ?? 0);
  v.dy.fill(view.dy ?? 0);
  v.flip.fill(view.flip ? 1 : 0);
  applyViews(images, n, v, out);
  return out;
}

/** Random erasing's rectangle (Zhong et al.): area 2-40% of the image, aspect ratio in [0.3, 3.3]. */
function eraseRect(rng: RandomStream): [number, number, number, number] | null {
  for (let attempt = 0; attempt < 10; attempt++) {
    const area = 784 * (0.02 + 0.38 * rng.next());
    const aspect = Math.exp(Math.log(0.3) + (Math.log(1 / 0.3) - Math.log(0.3)) * rng.next());
    const h = Math.round(Math.sqrt(area * aspect));
    const w = Math.round(Math.sqrt(area / aspect));
    if (h < 1 || w < 1 || h >= 28 || w >= 28) continue;
    const y0 = rng.int(0, 28 - h);
    const x0 = rng.int(0, 28 - w);
    return [y0, x0, y0 + h, x0 + w];
  }
  return null;
}

/** Draws each batch's random views from a seeded stream and applies them: the loop's training augmentation. */
export class Augmenter {
  readonly rng: RandomStream;
  constructor(
    readonly opts: AugmentOptions,
    seed: number,
  ) {
    if (!Number.isInteger(opts.cropPad) || opts.cropPad < 0 || opts.cropPad > 8)
      throw new RangeError(`cropPad must be an integer in [0, 8], got ${opts.cropPad}`);
    if (!(opts.eraseP >= 0 && opts.eraseP <= 1)) throw new RangeError(`eraseP must be in [0, 1], got ${opts.eraseP}`);
    // a stream of its own, so turning augmentation on or off does not change the data order or the init
    this.rng = new RandomStream((seed ^ 0xa09e667f) >>> 0);
  }

  get active(): boolean {
    return this.opts.augment.length > 0;
  }

  /** This batch's parameters: a draw for each enabled transform, in a fixed order per image. */
  draw(n: number): Views {
    const v = emptyViews(n);
    const { augment, cropPad, eraseP } = this.opts;
    const crop = augment.includes('crop') && cropPad > 0;
    const flip = augment.includes('flip');
    const erase = augment.includes('erase') && eraseP > 0;
    for (let i = 0; i < n; i++) {
      if (crop) {
        v.dx[i] = this.rng.int(-cropPad, cropPad);
        v.dy[i] = this.rng.int(-cropPad, cropPad);
      }
      if (flip) v.flip[i] = this.rng.next() < 0.5 ? 1 : 0;
      if (erase && this.rng.next() < eraseP) {
        const rect = eraseRect(this.rng);
        if (rect) v.erase.set(rect, 4 * i);
      }
    }
    return v;
  }

  /** Augments a gathered batch in place. */
  apply(images: Float32Array, n: number): void {
    if (!this.active) return;
    applyViews(images, n, this.draw(n));
  }
}
