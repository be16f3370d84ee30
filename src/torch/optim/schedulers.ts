// Learning-rate schedulers with PyTorch's names, stepped once per epoch (StepLR, CosineAnnealingLR) or per batch
// (OneCycleLR). The formulas are src/util/schedules.ts, which fmnist's training loop uses too.
import { cosineLr, oneCycleLr, stepLr } from '../../util/schedules.js';
import type { Optimizer } from './optimizer.js';

/** A schedule stepped once per epoch: the optimizer's lr becomes lrAt(base, t) after the t-th step(). */
abstract class EpochScheduler {
  private t = 0;
  protected readonly base: number;
  constructor(readonly optimizer: Optimizer) {
    this.base = optimizer.lr;
  }
  protected abstract lrAt(t: number): number;
  step(): void {
    this.optimizer.lr = this.lrAt(++this.t);
  }
}

export class StepLR extends EpochScheduler {
  constructor(
    optimizer: Optimizer,
    readonly stepSize: number,
    readonly gamma = 0.1,
  ) {
    super(optimizer);
  }
  protected lrAt(t: number): number {
    return stepLr(this.base, t, this.stepSize, this.gamma);
  }
}

export class CosineAnnealingLR extends EpochScheduler {
  constructor(
    optimizer: Optimizer,
    readonly tMax: number,
    readonly etaMin = 0,
  ) {
    super(optimizer);
  }
  protected lrAt(t: number): number {
    return cosineLr(this.base, t, this.tMax, this.etaMin);
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
