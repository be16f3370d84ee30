// Learning-rate schedules, stepped once per epoch (StepLR, CosineAnnealingLR) or per batch (OneCycleLR).
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
    this.epoch++;
    this.optimizer.lr = this.base * this.gamma ** Math.floor(this.epoch / this.stepSize);
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
    this.t++;
    this.optimizer.lr = this.etaMin + ((this.base - this.etaMin) * (1 + Math.cos((Math.PI * this.t) / this.tMax))) / 2;
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
    const up = Math.max(1, Math.floor(this.pctStart * this.totalSteps));
    const start = this.maxLr / this.divFactor;
    const end = start / this.finalDivFactor;
    const cos = (a: number, b: number, f: number) => b + ((a - b) * (1 + Math.cos(Math.PI * f))) / 2;
    this.optimizer.lr =
      this.t <= up
        ? start + ((this.maxLr - start) * this.t) / up
        : cos(this.maxLr, end, (this.t - up) / (this.totalSteps - up));
  }
}
