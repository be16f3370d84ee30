// optim.*: the update rules of PyTorch 1.13's single-tensor (for-loop) implementations, so
// that a run here and in Python follow the same arithmetic.
import { Tensor } from '../tensor.js';
import { noGrad, zerosLike } from '../ops.js';
import { tidy, currentScope } from '../scope.js';

export abstract class Optimizer {
  constructor(
    readonly params: Tensor[],
    public lr: number,
  ) {
    if (!(lr >= 0)) throw new Error(`invalid learning rate: ${lr}`);
  }
  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }
  /** One update from the gradients now held by the parameters. */
  step(): void {
    noGrad(() =>
      tidy(() => {
        this.params.forEach((p, i) => {
          const g = p.grad;
          if (g) this.update(p, g, i);
        });
      }),
    );
  }
  protected abstract update(p: Tensor, grad: Tensor, index: number): void;

  /** Optimizer state lives across steps: keep it out of any dispose scope. */
  protected state(t: Tensor): Tensor {
    currentScope()?.detach(t);
    return t;
  }
}

export class SGD extends Optimizer {
  private readonly buf: (Tensor | null)[];
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  constructor(
    params: Tensor[],
    opts: { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean },
  ) {
    super(params, opts.lr);
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.weightDecay = opts.weightDecay ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.buf = params.map(() => null);
  }
  protected update(p: Tensor, grad: Tensor, i: number): void {
    let d = this.weightDecay ? grad.add(p, this.weightDecay) : grad;
    if (this.momentum) {
      let b = this.buf[i];
      if (!b) b = this.buf[i] = this.state(d.clone());
      else b.mul_(this.momentum).add_(d, 1 - this.dampening);
      d = this.nesterov ? d.add(b, this.momentum) : b;
    }
    p.add_(d, -this.lr);
  }
}

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** The state and moment update that Adam, AdamW and RAdam share: m and v per parameter, and its step count. */
abstract class MomentsOptimizer extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  private readonly expAvg: Tensor[];
  private readonly expAvgSq: Tensor[];
  private readonly steps: number[];
  constructor(params: Tensor[], opts: AdamOptions, defaultWeightDecay: number) {
    super(params, opts.lr ?? 1e-3);
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? defaultWeightDecay;
    this.expAvg = params.map((p) => this.state(zerosLike(p)));
    this.expAvgSq = params.map((p) => this.state(zerosLike(p)));
    this.steps = params.map(() => 0);
  }
  /** Parameter i's step number (1-based) and its moments after folding in gradient g. */
  protected moments(i: number, g: Tensor): { step: number; m: Tensor; v: Tensor } {
    const [b1, b2] = this.betas;
    const m = this.expAvg[i].mul_(b1).add_(g, 1 - b1);
    const v = this.expAvgSq[i].mul_(b2).addcmul_(g, g, 1 - b2);
    return { step: ++this.steps[i], m, v };
  }
}

export class Adam extends MomentsOptimizer {
  constructor(
    params: Tensor[],
    opts: AdamOptions = {},
    private readonly decoupled = false,
  ) {
    super(params, opts, decoupled ? 1e-2 : 0);
  }
  protected update(p: Tensor, grad: Tensor, i: number): void {
    const [b1, b2] = this.betas;
    let g = grad;
    if (this.weightDecay) {
      if (this.decoupled) p.mul_(1 - this.lr * this.weightDecay);
      else g = grad.add(p, this.weightDecay);
    }
    const { step, m, v } = this.moments(i, g);
    const bc1 = 1 - b1 ** step;
    const bc2Sqrt = Math.sqrt(1 - b2 ** step);
    const denom = v.sqrt().div(bc2Sqrt).add(this.eps);
    p.addcdiv_(m, denom, -this.lr / bc1);
  }
}

/** Adam with decoupled weight decay (default 0.01), as torch.optim.AdamW. */
export class AdamW extends Adam {
  constructor(params: Tensor[], opts: AdamOptions = {}) {
    super(params, opts, true);
  }
}

/**
 * torch.optim.RAdam (1.13's `_single_tensor_radam`): Adam whose adaptive step is rectified by the variance of
 * the approximated simple moving average; while that average is too short (rho_t <= 5) the step is plain
 * momentum SGD with the bias-corrected first moment. Weight decay is coupled (added to the gradient).
 */
export class RAdam extends MomentsOptimizer {
  constructor(params: Tensor[], opts: AdamOptions = {}) {
    super(params, opts, 0);
  }
  protected update(p: Tensor, grad: Tensor, i: number): void {
    const [b1, b2] = this.betas;
    const g = this.weightDecay ? grad.add(p, this.weightDecay) : grad;
    const { step, m, v } = this.moments(i, g);
    const bc1 = 1 - b1 ** step;
    const bc2 = 1 - b2 ** step;
    const mHat = m.div(bc1);
    const rhoInf = 2 / (1 - b2) - 1;
    const rhoT = rhoInf - (2 * step * b2 ** step) / bc2;
    if (rhoT > 5) {
      const rect = Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
      // torch: adaptive_lr = sqrt(bc2) / (sqrt(v) + eps), a float over a tensor, which Python evaluates as
      // reciprocal() * float (pow(-1) is libtorch's reciprocal); then p -= m_hat * lr * adaptive_lr * rect.
      const adaptiveLr = v.sqrt().add(this.eps).pow(-1).mul(Math.sqrt(bc2));
      p.add_(mHat.mul(this.lr).mul(adaptiveLr).mul(rect), -1);
    } else {
      p.add_(mHat.mul(this.lr), -1);
    }
  }
}
