// The Keras side's optimizers, with torch.optim's meaning for every OptimizerSpec field, checked step by step
// against torch.optim's trajectories (test/keras/optimizers.test.ts on test/fixtures/torch/reference.json).
//
// Where tfjs has the rule, its own optimizer does the update and a thin subclass adds what torch has and it lacks:
//   - SGD and momentum/Nesterov (tf.SGDOptimizer, tf.MomentumOptimizer): accum = m * accum + g, then
//     p -= lr * (nesterov ? g + m * accum : accum). tfjs starts accum at 0, torch sets buf = g on the first step;
//     m * 0 + g is g exactly, so with torch's dampening 0 (the only one OptimizerSpec has) the two are the same
//     arithmetic. But both keep -lr as a tensor made in setLearningRate(), so assigning `learningRate` (as the
//     loop does before every step) changed nothing: the subclasses re-make it when the field has changed.
//   - Adam (tf.AdamOptimizer): p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps), which is torch's
//     p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps) rearranged: tfjs 4.x does not fold the bias corrections
//     into lr as TF/Keras in Python does (lr_t = lr * sqrt(bc2) / bc1 with eps outside, i.e. an effective eps of
//     eps / sqrt(bc2), 31.6x at step 1 with b2 0.999), so eps enters as in torch. What differs is rounding:
//     tfjs keeps b1^t and b2^t as float32 running products, and float32(0.999) is not 0.999, so its 1 - b2^t is
//     1-2e-5 (relative) below torch's double one and each step 0.6-1e-5 (relative) shorter. On the reference
//     trajectories that is at most 5e-7 off torch (test: 1e-5), and it matters nowhere in training, so tfjs's
//     Adam stays, with PyTorch's eps 1e-8. The eps does matter where sqrt(v) is of its order: on the fixture's
//     gradients scaled by 1e-8 (adam_tiny_grads), tfjs's default eps 1e-7 ends 2.3e-2 off torch, TF-Python's
//     folding 2.5e-2, this 1.5e-7.
//   - Coupled weight decay (sgd, adam, radam: g + wd * p, torch's grad.add(p, alpha=wd)): the subclasses add it
//     to the gradients before handing them to tfjs's update.
// AdamW (decoupled decay) and RAdam have no tfjs rule: they are tf.Optimizer subclasses written after
// torch 1.13's _single_tensor_adamw and _single_tensor_radam, op for op.
// Every optimizer here reads its `learningRate` field on every step.
import * as tf from '@tensorflow/tfjs-core';
import type { OptimizerSpec } from './types.js';

/** tfjs-core's NamedTensor, which its index does not export. */
interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}
type Gradients = tf.NamedTensorMap | NamedTensor[];
/** tfjs's momentum and Adam declare their gradients as variables; they only read them. */
type StockGradients = Parameters<tf.MomentumOptimizer['applyGradients']>[0];
type Config = tf.serialization.ConfigDict;
type Ctor<T extends tf.serialization.Serializable> = tf.serialization.SerializableConstructor<T>;

const variable = (name: string): tf.Variable => {
  const v = tf.engine().registeredVariables[name];
  if (!v) throw new Error(`optimizer: no variable named '${name}'`);
  return v;
};

/** The (name, gradient) pairs of either form applyGradients takes; a null gradient means "not this one". */
const entries = (g: Gradients): [string, tf.Tensor | null][] =>
  Array.isArray(g) ? g.map((e) => [e.name, e.tensor ?? null]) : Object.entries(g);

/** g + wd * p for each gradient, in the form it came in (tfjs's momentum keys its state by position). */
function coupledDecay(g: Gradients, wd: number): Gradients {
  const plus = (name: string, t: tf.Tensor) => tf.tidy(() => tf.add(t, tf.mul(variable(name), wd)));
  if (Array.isArray(g)) return g.map(({ name, tensor }) => ({ name, tensor: tensor && plus(name, tensor) }));
  const out: tf.NamedTensorMap = {};
  for (const [name, t] of Object.entries(g)) if (t) out[name] = plus(name, t);
  return out;
}

/** Applies `apply` to the gradients, with coupled weight decay added first when wd is not 0. */
function withCoupledDecay(g: Gradients, wd: number, apply: (g: Gradients) => void): void {
  if (!wd) return apply(g);
  const decayed = coupledDecay(g, wd);
  try {
    apply(decayed);
  } finally {
    tf.dispose(
      entries(decayed)
        .map(([, t]) => t)
        .filter((t): t is tf.Tensor => t !== null),
    );
  }
}

/** tfjs's SGD, with coupled weight decay and the learning rate read on every step. */
export class TorchSGD extends tf.SGDOptimizer {
  static override get className() {
    return 'TorchSGD';
  }
  private appliedLr: number;
  constructor(
    learningRate: number,
    readonly weightDecay = 0,
  ) {
    super(learningRate);
    this.appliedLr = learningRate;
  }
  declare learningRate: number;
  override applyGradients(g: Gradients): void {
    if (this.learningRate !== this.appliedLr) this.setLearningRate((this.appliedLr = this.learningRate));
    withCoupledDecay(g, this.weightDecay, (d) => super.applyGradients(d));
  }
  override getConfig(): Config {
    return { ...super.getConfig(), weightDecay: this.weightDecay };
  }
  static override fromConfig<T extends tf.serialization.Serializable>(cls: Ctor<T>, c: Config): T {
    return new cls(c.learningRate, c.weightDecay);
  }
}

/** tfjs's momentum SGD (Nesterov too), with coupled weight decay and the learning rate read on every step. */
export class TorchMomentum extends tf.MomentumOptimizer {
  static override get className() {
    return 'TorchMomentum';
  }
  private appliedLr: number;
  constructor(
    learningRate: number,
    momentum: number,
    useNesterov = false,
    readonly weightDecay = 0,
  ) {
    super(learningRate, momentum, useNesterov);
    this.appliedLr = learningRate;
  }
  declare learningRate: number;
  override applyGradients(g: Gradients): void {
    if (this.learningRate !== this.appliedLr) this.setLearningRate((this.appliedLr = this.learningRate));
    withCoupledDecay(g, this.weightDecay, (d) => super.applyGradients(d as StockGradients));
  }
  override dispose(): void {
    super.dispose();
    this.c.dispose(); // tfjs's MomentumOptimizer.dispose() forgets SGD's -lr scalar
  }
  override getConfig(): Config {
    return { ...super.getConfig(), weightDecay: this.weightDecay };
  }
  static override fromConfig<T extends tf.serialization.Serializable>(cls: Ctor<T>, c: Config): T {
    return new cls(c.learningRate, c.momentum, c.useNesterov, c.weightDecay);
  }
}

/** tfjs's Adam (which reads learningRate on every step itself), with coupled weight decay. */
export class TorchAdam extends tf.AdamOptimizer {
  static override get className() {
    return 'TorchAdam';
  }
  constructor(
    learningRate: number,
    beta1 = 0.9,
    beta2 = 0.999,
    epsilon = 1e-8,
    readonly weightDecay = 0,
  ) {
    super(learningRate, beta1, beta2, epsilon);
  }
  declare learningRate: number;
  override applyGradients(g: Gradients): void {
    withCoupledDecay(g, this.weightDecay, (d) => super.applyGradients(d as StockGradients));
  }
  override getConfig(): Config {
    return { ...super.getConfig(), weightDecay: this.weightDecay };
  }
  static override fromConfig<T extends tf.serialization.Serializable>(cls: Ctor<T>, c: Config): T {
    return new cls(c.learningRate, c.beta1, c.beta2, c.epsilon, c.weightDecay);
  }
}

export interface MomentsOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
}

/**
 * State shared by AdamW and RAdam: per variable the first and second moments (non-trainable variables, named
 * `<variable>/m` and `<variable>/v` as tfjs's Adam names them) and torch's per-parameter step count.
 */
abstract class MomentsOptimizer extends tf.Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  private readonly moments = new Map<string, { m: tf.Variable; v: tf.Variable; step: number }>();

  constructor(
    public learningRate: number,
    o: MomentsOptions,
    defaultWeightDecay: number,
  ) {
    super();
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.999;
    this.epsilon = o.epsilon ?? 1e-8;
    this.weightDecay = o.weightDecay ?? defaultWeightDecay;
  }

  /** One parameter's update from its (raw) gradient; called inside a tidy. `step` counts from 1. */
  protected abstract update(p: tf.Variable, g: tf.Tensor, m: tf.Variable, v: tf.Variable, step: number): void;

  applyGradients(grads: Gradients): void {
    for (const [name, g] of entries(grads)) {
      if (!g) continue;
      const p = variable(name);
      let s = this.moments.get(name);
      if (!s) {
        s = tf.tidy(() => ({
          m: tf.zerosLike(p).variable(false),
          v: tf.zerosLike(p).variable(false),
          step: 0,
        }));
        this.moments.set(name, s);
      }
      const state = s;
      state.step++;
      tf.tidy(() => this.update(p, g, state.m, state.v, state.step));
    }
    this.incrementIterations();
  }

  override dispose(): void {
    for (const { m, v } of this.moments.values()) tf.dispose([m, v]);
    this.moments.clear();
    super.dispose();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const all = [...this.moments];
    return [
      await this.saveIterations(),
      ...all.map(([name, s]) => ({ name: `${name}/m`, tensor: s.m })),
      ...all.map(([name, s]) => ({ name: `${name}/v`, tensor: s.v })),
    ];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    const n = rest.length / 2;
    for (const { m, v } of this.moments.values()) tf.dispose([m, v]);
    this.moments.clear();
    for (let i = 0; i < n; i++) {
      const name = rest[i].name.replace(/\/m$/, '');
      this.moments.set(name, {
        m: rest[i].tensor.variable(false),
        v: rest[n + i].tensor.variable(false),
        step: this.iterations,
      });
    }
  }

  getConfig(): Config {
    return {
      learningRate: this.learningRate,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      weightDecay: this.weightDecay,
    };
  }

  /** m = b1 * m + (1 - b1) * g; v = b2 * v + (1 - b2) * g * g (torch: mul_, add_ and addcmul_). */
  protected moments_(g: tf.Tensor, m: tf.Variable, v: tf.Variable): void {
    m.assign(tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1)));
    v.assign(tf.add(tf.mul(v, this.beta2), tf.mul(tf.mul(g, g), 1 - this.beta2)));
  }
}

/** torch.optim.AdamW: p *= 1 - lr * wd (decoupled, default wd 0.01), then Adam's step on the raw gradient. */
export class AdamW extends MomentsOptimizer {
  static get className() {
    return 'AdamW';
  }
  constructor(learningRate = 1e-3, o: MomentsOptions = {}) {
    super(learningRate, o, 1e-2);
  }
  protected override update(p: tf.Variable, g: tf.Tensor, m: tf.Variable, v: tf.Variable, step: number): void {
    const lr = this.learningRate;
    if (this.weightDecay) p.assign(tf.mul(p, 1 - lr * this.weightDecay));
    this.moments_(g, m, v);
    const bc1 = 1 - this.beta1 ** step;
    const bc2Sqrt = Math.sqrt(1 - this.beta2 ** step);
    // torch: denom = sqrt(v) / sqrt(bc2) + eps; p.addcdiv_(m, denom, value = -lr / bc1)
    const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), this.epsilon);
    p.assign(tf.add(p, tf.mul(tf.div(m, denom), -lr / bc1)));
  }
  static override fromConfig<T extends tf.serialization.Serializable>(cls: Ctor<T>, c: Config): T {
    return new cls(c.learningRate, c);
  }
}

/**
 * torch.optim.RAdam: Adam whose adaptive step is rectified by the variance of the approximated simple moving
 * average; while that average is short (rho_t <= 5, the first 5 steps with beta2 0.999) the step is the
 * bias-corrected first moment alone. Weight decay is coupled (g + wd * p).
 */
export class RAdam extends MomentsOptimizer {
  static get className() {
    return 'RAdam';
  }
  constructor(learningRate = 1e-3, o: MomentsOptions = {}) {
    super(learningRate, o, 0);
  }
  protected override update(p: tf.Variable, grad: tf.Tensor, m: tf.Variable, v: tf.Variable, step: number): void {
    const { beta1: b1, beta2: b2, learningRate: lr } = this;
    const bc1 = 1 - b1 ** step;
    const bc2 = 1 - b2 ** step;
    const g = this.weightDecay ? tf.add(grad, tf.mul(p, this.weightDecay)) : grad;
    this.moments_(g, m, v);
    const mHat = tf.div(m, bc1);
    const rhoInf = 2 / (1 - b2) - 1;
    const rhoT = rhoInf - (2 * step * b2 ** step) / bc2;
    if (rhoT > 5) {
      const rect = Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
      // torch: adaptive_lr = sqrt(bc2) / (sqrt(v) + eps); p -= m_hat * lr * adaptive_lr * rect
      const adaptiveLr = tf.mul(tf.reciprocal(tf.add(tf.sqrt(v), this.epsilon)), Math.sqrt(bc2));
      p.assign(tf.sub(p, tf.mul(tf.mul(tf.mul(mHat, lr), adaptiveLr), rect)));
    } else {
      p.assign(tf.sub(p, tf.mul(mHat, lr)));
    }
  }
  static override fromConfig<T extends tf.serialization.Serializable>(cls: Ctor<T>, c: Config): T {
    return new cls(c.learningRate, c);
  }
}

for (const cls of [TorchSGD, TorchMomentum, TorchAdam, AdamW, RAdam]) tf.serialization.registerClass(cls);

/** A tfjs optimizer for `o`. Every one reads its `learningRate` field on each step (the loop sets it). */
export function makeKerasOptimizer(o: OptimizerSpec): tf.Optimizer {
  const wd = o.weightDecay;
  switch (o.name) {
    case 'sgd':
      return o.momentum ? new TorchMomentum(o.lr, o.momentum, o.nesterov, wd) : new TorchSGD(o.lr, wd);
    case 'adam':
      return new TorchAdam(o.lr, 0.9, 0.999, 1e-8, wd);
    case 'adamw':
      return new AdamW(o.lr, { weightDecay: wd });
    case 'radam':
      return new RAdam(o.lr, { weightDecay: wd });
  }
}
