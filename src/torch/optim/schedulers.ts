// Learning-rate schedulers with PyTorch's names, stepped once per epoch (StepLR, CosineAnnealingLR) or per batch
// (OneCycleLR). The formulas are src/util/schedules.ts, which fmnist's training loop uses too.
import { cosineLr, oneCycleLr, stepLr } from '../../util/schedules.js';
import type { Optimizer } from './optimizer.js';

export class StepLR {
  private epoch = 0;
  private readonly base: number;
  constructor(
    readonly optimizer: Optimizer,
    readonly stepSize: number,
    readonly gamma = 0.1,
  ) {
    this.base = optimizer.lr;
  }
  step(): void {
    this.optimizer.lr = stepLr(this.base, ++this.epoch, this.stepSize, this.gamma);
  }
}

export class CosineAnnealingLR {
  private t = 0;
  private readonly base: number;
  constructor(
    readonly optimizer: Optimizer,
    readonly tMax: number,
    readonly etaMin = 0,
  ) {
    this.base = optimizer.lr;
  }
  step(): void {
    this.optimizer.lr = cosineLr(this.base, ++this.t, this.tMax, this.etaMin);
  }
}

/** One-cycle: linear warm-up to maxLr over pctStart of the steps, then cosine down to maxLr/divFactor/1e4. */
export class OneCycleLR {
  private t = 0;
  constructor(
    readonly optimizer: Optimizer,
    readonly maxLr: number,
    readonly totalSteps: number,
    readonly pctStart = 0.3,
    readonly divFactor = 25,
    readonly finalDivFactor = 1e4,
  ) {
    optimizer.lr = maxLr / divFactor;
  }
  step(): void {
    this.t = Math.min(this.t + 1, this.totalSteps);
    const { pctStart, divFactor, finalDivFactor } = this;
    this.optimizer.lr = oneCycleLr(this.maxLr, this.t, this.totalSteps, { pctStart, divFactor, finalDivFactor });
  }
}
