// Learning-rate schedules as pure functions of the step: the one implementation behind both the training
// loop (per epoch, for either framework) and the torch API's StepLR / CosineAnnealingLR / OneCycleLR.

/** Cosine annealing from `base` at t = 0 to `min` at t = total (PyTorch's CosineAnnealingLR, closed form). */
export function cosineLr(base: number, t: number, total: number, min = 0): number {
  return min + ((base - min) * (1 + Math.cos((Math.PI * t) / total))) / 2;
}

/** `base` times `gamma` once every `stepSize` steps (StepLR). */
export function stepLr(base: number, t: number, stepSize: number, gamma = 0.1): number {
  return base * gamma ** Math.floor(t / stepSize);
}

export interface OneCycleOptions {
  pctStart?: number;
  divFactor?: number;
  finalDivFactor?: number;
}

/** One-cycle: linear warm-up from maxLr/divFactor to maxLr over pctStart of the steps, then cosine down to maxLr/divFactor/finalDivFactor. */
export function oneCycleLr(maxLr: number, t: number, total: number, o: OneCycleOptions = {}): number {
  const { pctStart = 0.3, divFactor = 25, finalDivFactor = 1e4 } = o;
  const step = Math.min(t, total);
  const up = Math.max(1, Math.floor(pctStart * total));
  const start = maxLr / divFactor;
  if (step <= up) return start + ((maxLr - start) * step) / up;
  return cosineLr(maxLr, step - up, total - up, start / finalDivFactor);
}
