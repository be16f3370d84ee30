// optim.*: the update rules of PyTorch 1.13's single-tensor (for-loop) implementations, so
// that a run here and in Python follow the same arithmetic.
//
// stateDict() / loadStateDict() use torch 1.13's layout, so that Python's torch.optim loads what torch.save writes
// here and the other way round: {state: {0: {...}, ...}, param_groups: [{lr, ..., params: [0, 1, ...]}]}, the
// state keyed by parameter index, with an entry only for parameters that have had a gradient.
import { Tensor, isTensor } from '../tensor.js';
import { noGrad, tensor, zerosLike } from '../ops.js';
import { tidy, currentScope } from '../scope.js';
import { PyDict, PyFloat, PyTuple, pyTypeName } from '../serialization/pickle.js';

export type OptimizerKind = 'SGD' | 'Adam' | 'AdamW' | 'RAdam';

/** Each optimizer's param_groups keys, in 1.13's order ('params' comes last). */
const GROUP_KEYS: Record<OptimizerKind, readonly string[]> = {
  SGD: ['lr', 'momentum', 'dampening', 'weight_decay', 'nesterov', 'maximize', 'foreach', 'differentiable'],
  Adam: [
    'lr',
    'betas',
    'eps',
    'weight_decay',
    'amsgrad',
    'maximize',
    'foreach',
    'capturable',
    'differentiable',
    'fused',
  ],
  AdamW: ['lr', 'betas', 'eps', 'weight_decay', 'amsgrad', 'foreach', 'maximize', 'capturable'],
  RAdam: ['lr', 'betas', 'eps', 'weight_decay', 'foreach'],
};

/**
 * The options fmnist's optimizers do not have, as they save them. On load, the two that would change the update
 * (maximize, amsgrad) must be False; the others only choose an implementation of the same rule.
 */
const FIXED: Record<string, { value: boolean | null; mustBe?: false }> = {
  maximize: { value: false, mustBe: false },
  amsgrad: { value: false, mustBe: false },
  foreach: { value: null },
  differentiable: { value: false },
  capturable: { value: false },
  fused: { value: false },
};

const STATE_KEYS = { SGD: ['momentum_buffer'], moments: ['step', 'exp_avg', 'exp_avg_sq'] };

/** A Python subscript for messages: ['lr'], [0]. */
const sub = (k: unknown) => `[${typeof k === 'string' ? `'${k}'` : String(k)}]`;
function typeName(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (isTensor(v)) return 'tensor';
  const n = pyTypeName(v);
  return n === 'object' ? ((v as object).constructor?.name ?? n) : n;
}

/** Reads the fields of a state dict, each error naming the optimizer and the field. */
class Fields {
  constructor(readonly owner: string) {}
  fail(msg: string): never {
    throw new Error(`${this.owner}.loadStateDict: ${msg}`);
  }
  dict(v: unknown, at: string): PyDict {
    return v instanceof PyDict ? v : this.fail(`${at} is a ${typeName(v)}, not a dict`);
  }
  /** The dict's keys must be `want`, in any order. */
  keys(d: PyDict, want: readonly string[], at: string, hint = ''): void {
    const have = [...d.keys()];
    const missing = want.filter((k) => !d.has(k));
    const extra = have.filter((k) => typeof k !== 'string' || !want.includes(k));
    if (missing.length || extra.length)
      this.fail(
        `${at} ` +
          [
            missing.length ? `has no ${missing.map((k) => `'${k}'`).join(', ')}` : '',
            extra.length ? `has unexpected ${extra.map((k) => `'${String(k)}'`).join(', ')}` : '',
          ]
            .filter(Boolean)
            .join(' and ') +
          hint,
      );
  }
  num(v: unknown, at: string, ok = (x: number) => x >= 0 && x < Infinity, what = 'a number >= 0'): number {
    const x =
      v instanceof PyFloat ? v.value : typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
    if (x === undefined || !ok(x)) this.fail(`${at} is ${x === undefined ? `a ${typeName(v)}` : x}, not ${what}`);
    return x;
  }
  bool(v: unknown, at: string): boolean {
    return typeof v === 'boolean' ? v : this.fail(`${at} is a ${typeName(v)}, not a bool`);
  }
  /** A floating-point tensor of the parameter's shape. */
  tensor(v: unknown, at: string, p: Tensor, i: number): Tensor {
    if (!isTensor(v)) this.fail(`${at} is a ${typeName(v)}, not a tensor`);
    const [a, b] = [v.shape.join(', '), p.shape.join(', ')];
    if (a !== b) this.fail(`${at} has shape [${a}], but parameter ${i} has shape [${b}]`);
    if (v.dtype !== 'float32' && v.dtype !== 'float64') this.fail(`${at} is a ${v.dtype} tensor, not a float tensor`);
    return v;
  }
}

export abstract class Optimizer {
  /** torch.optim's class name: which state dicts this optimizer can load. */
  abstract readonly kind: OptimizerKind;
  /** The parameters that have state, in the order they got it: torch's `state` dict, keyed by index. */
  private readonly stateful = new Set<number>();
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
          if (!g) return;
          this.stateful.add(i);
          this.update(p, g, i);
        });
      }),
    );
  }
  protected abstract update(p: Tensor, grad: Tensor, index: number): void;

  private readonly owned = new Set<Tensor>();
  /** Optimizer state lives across steps: keep it out of any dispose scope (dispose() frees it). */
  protected state(t: Tensor): Tensor {
    currentScope()?.detach(t);
    this.owned.add(t);
    return t;
  }

  /** Frees the optimizer's state (moments, momentum buffers) now, rather than when the finalizers get to it. */
  dispose(): void {
    for (const t of this.owned) t.dispose();
    this.owned.clear();
  }

  /** The value of a param_groups key that is the optimizer's own (lr, betas, ...), as Python holds it. */
  protected abstract hyper(key: string): unknown;
  /** Parameter i's entry of `state` (it has one once it has had a gradient). */
  protected abstract entry(i: number): PyDict;
  /** Checks the group's own keys; returns what sets them. */
  protected abstract readGroup(g: PyDict, f: Fields): () => void;
  /** Checks parameter i's entry (null: none); returns what loads it. */
  protected abstract readEntry(i: number, e: PyDict | null, at: string, f: Fields): () => void;

  /**
   * torch's optimizer.state_dict(), in 1.13's layout (see the top of this file), with the current lr. The tensors
   * are copies in the current dispose scope: use it inside torch.tidy, e.g. torch.tidy(() => torch.save(...)).
   */
  stateDict(): PyDict {
    const state = new PyDict();
    for (const i of this.stateful) state.set(i, this.entry(i));
    const group = PyDict.of(GROUP_KEYS[this.kind].map((k) => [k, k in FIXED ? FIXED[k].value : this.hyper(k)]));
    group.set(
      'params',
      this.params.map((_, i) => i),
    );
    return PyDict.of([
      ['state', state],
      ['param_groups', [group]],
    ]);
  }

  /**
   * torch's optimizer.load_state_dict(): the state and the hyperparameters (lr included) of a state dict of the
   * same kind of optimizer over parameters of the same shapes, as stateDict() or Python's torch.optim writes it
   * (read with torch.loadObject). Everything is checked before anything changes; an Error names the bad field.
   * The tensors are copied: the caller may dispose `sd` afterwards.
   */
  loadStateDict(sd: unknown): void {
    const f: Fields = new Fields(this.kind); // annotated, so that f.fail() narrows (it returns never)
    const top = f.dict(sd, 'the state dict');
    f.keys(top, ['state', 'param_groups'], 'the state dict');
    const groups = top.get('param_groups');
    if (!Array.isArray(groups)) f.fail(`['param_groups'] is a ${typeName(groups)}, not a list`);
    if (groups.length !== 1) f.fail(`['param_groups'] holds ${groups.length} groups; fmnist's optimizers have one`);
    const at = "['param_groups'][0]";
    const g = f.dict(groups[0], at);
    const other = (Object.keys(GROUP_KEYS) as OptimizerKind[]).find(
      (k) => k !== this.kind && GROUP_KEYS[k].length + 1 === g.size && GROUP_KEYS[k].every((key) => g.has(key)),
    );
    f.keys(g, [...GROUP_KEYS[this.kind], 'params'], at, other ? ` (it is a torch.optim.${other} state dict)` : '');
    for (const k of GROUP_KEYS[this.kind].filter((key) => key in FIXED)) {
      const v = g.get(k);
      if (k === 'foreach' ? v !== null && typeof v !== 'boolean' : typeof v !== 'boolean')
        f.fail(`${at}${sub(k)} is a ${typeName(v)}, not a bool${k === 'foreach' ? ' or None' : ''}`);
      if (FIXED[k].mustBe === false && v) f.fail(`${at}${sub(k)} is True, which fmnist's ${this.kind} does not do`);
    }
    const ids = g.get('params');
    if (!Array.isArray(ids)) f.fail(`${at}['params'] is a ${typeName(ids)}, not a list`);
    if (ids.length !== this.params.length)
      f.fail(`${at}['params'] lists ${ids.length} parameters, but this optimizer has ${this.params.length}`);
    // Python maps the saved ids to the parameters in order: the ids themselves may be any distinct ints.
    const index = new Map<number, number>();
    ids.forEach((id, i) => {
      f.num(id, `${at}['params'][${i}]`, Number.isSafeInteger, 'an int');
      if (index.has(id as number)) f.fail(`${at}['params'] lists ${String(id)} twice`);
      index.set(id as number, i);
    });
    const setGroup = this.readGroup(g, f);
    const state = f.dict(top.get('state'), "['state']");
    const entries = new Map<number, PyDict>();
    for (const [id, e] of state.entries()) {
      const i = typeof id === 'number' ? index.get(id) : undefined;
      if (i === undefined) f.fail(`['state'] has an entry ${sub(id)} for no parameter of ${at}['params']`);
      entries.set(i, f.dict(e, `['state']${sub(id)}`));
    }
    const loads = this.params.map((_, i) => this.readEntry(i, entries.get(i) ?? null, `['state']${sub(ids[i])}`, f));
    noGrad(() => {
      setGroup();
      for (const load of loads) load();
    });
    this.stateful.clear();
    for (const i of entries.keys()) this.stateful.add(i);
  }
}

export class SGD extends Optimizer {
  readonly kind = 'SGD';
  private readonly buf: (Tensor | null)[];
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
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

  protected hyper(key: string): unknown {
    // Python's defaults for momentum, dampening and weight_decay are the int 0: an integral value saves as an int
    const values: Record<string, unknown> = {
      lr: new PyFloat(this.lr),
      momentum: this.momentum,
      dampening: this.dampening,
      weight_decay: this.weightDecay,
      nesterov: this.nesterov,
    };
    return values[key];
  }
  protected entry(i: number): PyDict {
    // torch keeps an entry for every parameter that has had a gradient; its buffer is None without momentum
    return PyDict.of([['momentum_buffer', this.buf[i]?.clone() ?? null]]);
  }
  protected readGroup(g: PyDict, f: Fields): () => void {
    const at = "['param_groups'][0]";
    const lr = f.num(g.get('lr'), `${at}['lr']`);
    const momentum = f.num(g.get('momentum'), `${at}['momentum']`);
    const dampening = f.num(g.get('dampening'), `${at}['dampening']`);
    const weightDecay = f.num(g.get('weight_decay'), `${at}['weight_decay']`);
    const nesterov = f.bool(g.get('nesterov'), `${at}['nesterov']`);
    if (nesterov && (momentum <= 0 || dampening !== 0))
      f.fail(`${at}['nesterov'] is True, which needs a momentum > 0 and dampening 0`);
    return () => Object.assign(this, { lr, momentum, dampening, weightDecay, nesterov });
  }
  protected readEntry(i: number, e: PyDict | null, at: string, f: Fields): () => void {
    let src: Tensor | null = null;
    if (e) {
      f.keys(e, STATE_KEYS.SGD, at);
      const b = e.get('momentum_buffer');
      // None: the momentum was 0 when this parameter last stepped, or no buffer is made yet
      if (b !== null) src = f.tensor(b, `${at}['momentum_buffer']`, this.params[i], i);
    }
    return () => {
      if (src) this.buf[i] = (this.buf[i] ?? this.state(zerosLike(this.params[i]))).copy_(src);
      else {
        this.buf[i]?.dispose();
        this.buf[i] = null;
      }
    };
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
  betas: [number, number];
  eps: number;
  weightDecay: number;
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

  protected hyper(key: string): unknown {
    // weight_decay saves as Python's default does: the int 0 for Adam and RAdam, the float 0.01 for AdamW
    const values: Record<string, unknown> = {
      lr: new PyFloat(this.lr),
      betas: new PyTuple(this.betas.map((b) => new PyFloat(b))),
      eps: new PyFloat(this.eps),
      weight_decay: this.weightDecay,
    };
    return values[key];
  }
  protected entry(i: number): PyDict {
    // torch 1.13 keeps step as a float32 scalar tensor
    return PyDict.of([
      ['step', tensor(this.steps[i])],
      ['exp_avg', this.expAvg[i].clone()],
      ['exp_avg_sq', this.expAvgSq[i].clone()],
    ]);
  }
  protected readGroup(g: PyDict, f: Fields): () => void {
    const at = "['param_groups'][0]";
    const lr = f.num(g.get('lr'), `${at}['lr']`);
    const betas = g.get('betas');
    const pair: readonly unknown[] = betas instanceof PyTuple ? betas.items : Array.isArray(betas) ? betas : [];
    if (pair.length !== 2) f.fail(`${at}['betas'] is a ${typeName(betas)}, not a pair of numbers`);
    const beta = (k: number) => f.num(pair[k], `${at}['betas'][${k}]`, (x) => x >= 0 && x < 1, 'a number in [0, 1)');
    const [b1, b2] = [beta(0), beta(1)];
    const eps = f.num(g.get('eps'), `${at}['eps']`);
    const weightDecay = f.num(g.get('weight_decay'), `${at}['weight_decay']`);
    return () => Object.assign(this, { lr, betas: [b1, b2], eps, weightDecay });
  }
  protected readEntry(i: number, e: PyDict | null, at: string, f: Fields): () => void {
    if (!e)
      return () => {
        this.steps[i] = 0;
        this.expAvg[i].zero_();
        this.expAvgSq[i].zero_();
      };
    f.keys(e, STATE_KEYS.moments, at);
    const p = this.params[i];
    let s = e.get('step');
    if (isTensor(s)) {
      // a scalar tensor (1.12 and later), or a number (older files)
      if (s.numel() !== 1) f.fail(`${at}['step'] is a tensor of shape [${s.shape.join(', ')}], not a scalar`);
      s = s.item();
    }
    const step = f.num(s, `${at}['step']`, Number.isSafeInteger, 'a whole number of steps');
    if (step < 0) f.fail(`${at}['step'] is ${step}, not a whole number of steps`);
    const m = f.tensor(e.get('exp_avg'), `${at}['exp_avg']`, p, i);
    const v = f.tensor(e.get('exp_avg_sq'), `${at}['exp_avg_sq']`, p, i);
    return () => {
      this.steps[i] = step;
      this.expAvg[i].copy_(m);
      this.expAvgSq[i].copy_(v);
    };
  }
}

export class Adam extends MomentsOptimizer {
  get kind(): OptimizerKind {
    return this.decoupled ? 'AdamW' : 'Adam';
  }
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
  readonly kind = 'RAdam';
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
