// nn.Module: explicit registration of parameters, buffers and submodules (as in TorchSharp),
// with PyTorch's dotted state_dict names.
import { Tensor, type MemoryFormat } from '../tensor.js';
import { currentScope, tidy } from '../scope.js';
import { noGrad } from '../ops.js';
import type { ChannelAffine, OnnxGraph } from './onnx.js';

/** Parameters and buffers outlive dispose scopes: the module owns them. */
function own(t: Tensor): Tensor {
  currentScope()?.detach(t);
  return t;
}

export abstract class Module {
  training = true;
  private readonly params = new Map<string, Tensor>();
  private readonly buffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  abstract forward(x: Tensor): Tensor;

  /**
   * Calling a module runs forward, as in PyTorch, in a dispose scope that keeps only the output
   * (docs/memory.md, rule 13): a hand-written forward's temporaries are freed as soon as it returns,
   * not when the caller's tidy ends. Autograd holds its own references, so backward still works.
   */
  call(x: Tensor): Tensor {
    return tidy(() => this.forward(x));
  }

  /**
   * The layer's inference-mode ONNX form: adds its nodes to `g` after the value named `input` and returns the name
   * of its output. A layer without one cannot be exported (see DEVELOPMENT.md, "Adding an ONNX op for a new layer").
   */
  toOnnx?(g: OnnxGraph, input: string): string;
  /**
   * The same, with the inference-mode BatchNorm that directly follows this layer folded into its weights (Conv2d,
   * Linear). nn.Sequential uses it when it is there; otherwise the BatchNorm is a node of its own.
   */
  toOnnxFolded?(g: OnnxGraph, input: string, bn: ChannelAffine): string;

  /** toOnnx, or an error naming this module's class and place when it has no ONNX form. */
  onnx(g: OnnxGraph, input: string): string {
    if (!this.toOnnx) {
      const where = g.path ? ` (at ${g.path})` : '';
      throw new Error(`ONNX export: ${this.constructor.name}${where} has no ONNX form (no toOnnx method)`);
    }
    return this.toOnnx(g, input);
  }

  protected registerParameter(name: string, t: Tensor): Tensor {
    own(t).requiresGrad_(true);
    this.params.set(name, t);
    return t;
  }
  protected registerBuffer(name: string, t: Tensor): Tensor {
    this.buffers.set(name, own(t));
    return t;
  }
  protected registerModule<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  *namedChildren(): Generator<[string, Module]> {
    yield* this.children;
  }
  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, p] of this.params) yield [prefix + n, p];
    for (const [n, m] of this.children) yield* m.namedParameters(`${prefix}${n}.`);
  }
  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, b] of this.buffers) yield [prefix + n, b];
    for (const [n, m] of this.children) yield* m.namedBuffers(`${prefix}${n}.`);
  }
  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }
  numParameters(): number {
    return this.parameters().reduce((s, p) => s + p.numel(), 0);
  }

  train(mode = true): this {
    this.training = mode;
    for (const m of this.children.values()) m.train(mode);
    return this;
  }
  eval(): this {
    return this.train(false);
  }
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** Parameters then buffers of each module, in registration order, like PyTorch. Live references, not copies. */
  stateDict(prefix = ''): Map<string, Tensor> {
    const sd = new Map<string, Tensor>();
    for (const [n, p] of this.params) sd.set(prefix + n, p);
    for (const [n, b] of this.buffers) sd.set(prefix + n, b);
    for (const [n, m] of this.children) for (const [k, v] of m.stateDict(`${prefix}${n}.`)) sd.set(k, v);
    return sd;
  }

  /** Copies values in. With `strict`, missing or unexpected keys and shape mismatches are errors. */
  loadStateDict(sd: Map<string, Tensor>, strict = true): { missing: string[]; unexpected: string[] } {
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !sd.has(k));
    const unexpected = [...sd.keys()].filter((k) => !own.has(k));
    if (strict && (missing.length || unexpected.length))
      throw new Error(
        `loadStateDict: missing keys [${missing.join(', ')}], unexpected keys [${unexpected.join(', ')}]`,
      );
    noGrad(() => {
      for (const [k, dst] of own) {
        const src = sd.get(k);
        if (!src) continue;
        const a = dst.shape.join('x');
        const b = src.shape.join('x');
        if (a !== b) throw new Error(`loadStateDict: ${k} has shape ${b} in the file but ${a} in the model`);
        dst.copy_(src);
      }
    });
    return { missing, unexpected };
  }

  /**
   * Lays every 4-D parameter and buffer out in `memoryFormat`, in place, as PyTorch's
   * `model.to(memory_format=torch.channels_last)`. Values, names and the state_dict are unchanged. With channels_last
   * weights, oneDNN's convolutions (and BatchNorm, pooling) run in NHWC and skip a reorder on every call: a `resnet`
   * training step is about 1.3x faster on CPU.
   */
  to(opts: { memoryFormat: MemoryFormat }): this {
    noGrad(() => {
      for (const t of this.stateDict().values())
        if (t.ndim === 4) tidy(() => void t.setData_(t.contiguous(opts.memoryFormat)));
    });
    return this;
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const t of this.stateDict().values()) t.dispose();
  }
}
