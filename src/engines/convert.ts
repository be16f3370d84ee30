// Moving trained weights between the two frameworks, for any architecture in the registry. Both builders make the
// same layers in the same order, so the mapping is generic: the PyTorch module's layers with weights (its
// state_dict entries, in order, grouped by module) pair one by one with the Keras model's layers with weights (in
// model.layers order), by kind: Conv2d ↔ Conv2D, Conv2d with groups = channels ↔ DepthwiseConv2D, Linear ↔ Dense,
// BatchNorm ↔ BatchNormalization. Every shape is checked; a layer that does not pair is an error that names it.
//
// What differs between the two, and how it is handled:
//   - kernels: PyTorch conv [out, in, kh, kw] ↔ Keras [kh, kw, in, out]; depthwise [C·M, 1, kh, kw] ↔
//     [kh, kw, C, M]; dense [out, in] ↔ [in, out];
//   - a Keras Flatten of an NHWC feature map orders features (h, w, c), PyTorch's of NCHW (c, h, w): the features
//     of the layer that reads the flattened vector (a Dense's input rows, a BatchNorm's vectors) are permuted. It is
//     found from the Keras graph (the Flatten's input shape), not from the architecture's name;
//   - BatchNorm's epsilon (PyTorch 1e-5; tfjs's default 1e-3, in Keras runs made before our models set 1e-5),
//     see keras-to-torch and torch-to-keras below.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as torch from '../torch/index.js';
import { useTorchBackend } from '../tfjs-backend/index.js';
import type { ModelSpec } from '../models/index.js';
import { loadLayersFromDir } from './keras-io.js';

type Kind = 'conv' | 'depthwise' | 'dense' | 'batchnorm';

const KIND_NAMES: Record<Kind, string> = {
  conv: 'a convolution',
  depthwise: 'a depthwise convolution',
  dense: 'a dense layer',
  batchnorm: 'a BatchNorm',
};

/** A PyTorch module that holds weights, with its state_dict keys (Python's, in order). */
interface TorchLayer {
  kind: Kind;
  /** The module's state_dict prefix without the dot ('1.0.2'), or '(root)'. */
  name: string;
  cls: string;
  /** Local name ('weight', 'running_var', ...) → full state_dict key. */
  keys: Map<string, string>;
  /** BatchNorm only. */
  eps?: number;
}

/** The features of a flattened NHWC map: Keras orders them (h, w, c), PyTorch (c, h, w). */
interface Flat {
  h: number;
  w: number;
  c: number;
}

/** A Keras layer that holds weights. */
interface KerasLayer {
  kind: Kind;
  layer: tfl.layers.Layer;
  /** Its weights by their own names ('kernel', 'moving_variance', ...). */
  weights: Map<string, tfl.LayerVariable>;
  /** Set when the layer reads a Flatten of a feature map with more than one pixel and one channel. */
  flat?: Flat;
  /** BatchNormalization only. */
  eps?: number;
}

/** A tensor's values and shape, framework-free. */
interface Arr {
  data: Float32Array;
  shape: number[];
}

const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;
const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** `data` (row-major, `shape`) with its axes reordered: out axis i is in axis perm[i] (numpy's transpose). */
export function permute(a: Arr, perm: readonly number[]): Arr {
  const { data, shape } = a;
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const inStrides = new Array<number>(rank);
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  const strides = perm.map((p) => inStrides[p]);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[src];
    // odometer over the output's indices, moving the source offset by the permuted strides
    for (let d = rank - 1; d >= 0; d--) {
      src += strides[d];
      if (++idx[d] < outShape[d]) break;
      src -= strides[d] * outShape[d];
      idx[d] = 0;
    }
  }
  return { data: out, shape: outShape };
}

const reshape = (a: Arr, shape: number[]): Arr => ({ data: a.data, shape });

// ---- the PyTorch side ------------------------------------------------------------------------------------------

/** The modules with weights, in state_dict order (a module's own entries, then its children's). */
function torchLayers(model: torch.nn.Module): TorchLayer[] {
  const out: TorchLayer[] = [];
  const walk = (m: torch.nn.Module, prefix: string) => {
    const name = prefix ? prefix.slice(0, -1) : '(root)';
    const keysOf = (...local: string[]) => {
      const sd = m.stateDict(prefix);
      return new Map(local.filter((k) => sd.has(prefix + k)).map((k) => [k, prefix + k]));
    };
    const cls = m.constructor.name;
    if (m instanceof torch.nn.Conv2d) {
      const groups = m.opts.groups ?? 1;
      let kind: Kind = 'conv';
      if (groups !== 1) {
        if (groups !== m.inChannels)
          throw new Error(`PyTorch layer ${name}: a grouped convolution (groups=${groups}) has no Keras counterpart`);
        kind = 'depthwise';
      }
      out.push({ kind, name, cls, keys: keysOf('weight', 'bias') });
    } else if (m instanceof torch.nn.Linear) out.push({ kind: 'dense', name, cls, keys: keysOf('weight', 'bias') });
    else if (m instanceof torch.nn.BatchNorm2d)
      out.push({
        kind: 'batchnorm',
        name,
        cls,
        keys: keysOf('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'),
        eps: m.eps,
      });
    else {
      const children = [...m.namedChildren()];
      const own = [...m.stateDict(prefix).keys()].filter(
        (k) => !children.some(([c]) => k.startsWith(`${prefix}${c}.`)),
      );
      if (own.length)
        throw new Error(
          `PyTorch layer ${name} (${cls}) holds weights (${own.join(', ')}) that fmnist cannot convert: ` +
            'add its layer kind to src/engines/convert.ts',
        );
      for (const [c, child] of children) walk(child, `${prefix}${c}.`);
    }
  };
  walk(model, '');
  return out;
}

// ---- the Keras side --------------------------------------------------------------------------------------------

/** Layers that keep the layout of their input feature for feature (so a Flatten's order passes through them). */
const ELEMENTWISE = new Set([
  'Dropout',
  'AlphaDropout',
  'GaussianDropout',
  'GaussianNoise',
  'ReLU',
  'LeakyReLU',
  'ELU',
  'PReLU',
  'ThresholdedReLU',
  'Activation',
  'BatchNormalization',
]);

/** The one inbound node of a layer (shared layers, with several, are not supported). */
function inbound(layer: tfl.layers.Layer) {
  const nodes = layer.inboundNodes;
  if (nodes.length !== 1)
    throw new Error(
      `Keras layer ${layer.name}: used ${nodes.length} times in the model; fmnist converts layers used once`,
    );
  return nodes[0];
}

/**
 * Whether `layer` reads a Flatten of an NHWC map (through elementwise layers only), and that map's shape. A map
 * of one pixel or one channel flattens the same in both orders, and needs nothing.
 */
function flattenedFrom(layer: tfl.layers.Layer): Flat | undefined {
  let node = inbound(layer);
  for (;;) {
    if (node.inboundLayers.length !== 1) return undefined;
    const src = node.inboundLayers[0];
    const cls = src.getClassName();
    if (cls === 'Flatten') {
      const shape = inbound(src).inputTensors[0].shape;
      if (shape.length !== 4) return undefined;
      const [, h, w, c] = shape as number[];
      return h * w > 1 && c > 1 ? { h, w, c } : undefined;
    }
    if (!ELEMENTWISE.has(cls)) return undefined;
    node = inbound(src);
  }
}

/** The Keras layers with weights, in model.layers order. */
function kerasLayers(model: tfl.LayersModel): KerasLayer[] {
  const out: KerasLayer[] = [];
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const cls = layer.getClassName();
    const cfg = layer.getConfig();
    const weights = new Map(layer.weights.map((w) => [w.originalName.split('/').pop()!, w]));
    const inShape = inbound(layer).inputTensors[0].shape;
    const where = `Keras layer ${layer.name} (${cls})`;
    if ((cls === 'Conv2D' || cls === 'DepthwiseConv2D') && cfg.dataFormat === 'channelsFirst')
      throw new Error(`${where}: channelsFirst data is not supported`);
    if (cls === 'Conv2D') out.push({ kind: 'conv', layer, weights });
    else if (cls === 'DepthwiseConv2D') out.push({ kind: 'depthwise', layer, weights });
    else if (cls === 'Dense') {
      // Dense on a feature map works on its last axis, channels in NHWC but width in NCHW: no counterpart.
      if (inShape.length !== 2) throw new Error(`${where}: a Dense layer on a rank-${inShape.length} input`);
      out.push({ kind: 'dense', layer, weights, flat: flattenedFrom(layer) });
    } else if (cls === 'BatchNormalization') {
      const axis = cfg.axis as number;
      if (axis !== -1 && axis !== inShape.length - 1)
        throw new Error(`${where}: normalizes axis ${axis}, not the channels (-1)`);
      if (!weights.has('gamma') || !weights.has('beta'))
        throw new Error(`${where}: without scale or center, which PyTorch's BatchNorm always has`);
      out.push({ kind: 'batchnorm', layer, weights, eps: cfg.epsilon as number, flat: flattenedFrom(layer) });
    } else
      throw new Error(
        `${where} holds weights that fmnist cannot convert: add its layer kind to src/engines/convert.ts`,
      );
  }
  return out;
}

// ---- pairing ---------------------------------------------------------------------------------------------------

const torchLabel = (t: TorchLayer) => `PyTorch ${t.name} (${t.cls})`;
const kerasLabel = (k: KerasLayer) => `Keras ${k.layer.name} (${k.layer.getClassName()})`;

/** The two lists, paired by position and kind; an error names the first layer that does not pair. */
function pair(spec: ModelSpec, ts: TorchLayer[], ks: KerasLayer[]): [TorchLayer, KerasLayer][] {
  const n = Math.max(ts.length, ks.length);
  const pairs: [TorchLayer, KerasLayer][] = [];
  for (let i = 0; i < n; i++) {
    const t = ts[i];
    const k = ks[i];
    const at = `model '${spec.id}', layer ${i + 1} with weights`;
    if (!t)
      throw new Error(`${at}: ${kerasLabel(k)} has no PyTorch counterpart (PyTorch has ${ts.length} such layers)`);
    if (!k) throw new Error(`${at}: ${torchLabel(t)} has no Keras counterpart (Keras has ${ks.length} such layers)`);
    if (t.kind !== k.kind)
      throw new Error(
        `${at}: ${torchLabel(t)} is ${KIND_NAMES[t.kind]}, but ${kerasLabel(k)} is ${KIND_NAMES[k.kind]}`,
      );
    if (t.keys.has('bias') !== k.weights.has('bias') && t.kind !== 'batchnorm')
      throw new Error(
        `${at}: ${torchLabel(t)} ${t.keys.has('bias') ? 'has' : 'has no'} bias, ${kerasLabel(k)} ${k.weights.has('bias') ? 'has' : 'has no'}`,
      );
    pairs.push([t, k]);
  }
  return pairs;
}

const kerasArr = (v: tfl.LayerVariable): Arr => ({
  data: v.read().dataSync() as Float32Array,
  shape: v.shape as number[],
});
const torchArr = (t: torch.Tensor): Arr => ({ data: t.toFloat32(), shape: t.shape });

/** A Keras kernel (or vector) in PyTorch's layout, for the pair's kind. */
function toTorchLayout(kind: Kind, local: string, a: Arr, flat: Flat | undefined): Arr {
  if (local === 'bias' && kind !== 'batchnorm') return a;
  switch (kind) {
    case 'conv': // [kh, kw, in, out] → [out, in, kh, kw]
      return permute(a, [3, 2, 0, 1]);
    case 'depthwise': {
      // [kh, kw, C, M] → [C, M, kh, kw] → [C·M, 1, kh, kw]: output channel c·M + m, as PyTorch groups them
      const [kh, kw, c, m] = a.shape;
      return reshape(permute(a, [2, 3, 0, 1]), [c * m, 1, kh, kw]);
    }
    case 'dense': {
      // [in, out] → [out, in]; flattened input rows go from (h, w, c) to (c, h, w)
      if (!flat) return permute(a, [1, 0]);
      const out = a.shape[1];
      const { h, w, c } = flat;
      return reshape(permute(reshape(a, [h, w, c, out]), [3, 2, 0, 1]), [out, c * h * w]);
    }
    case 'batchnorm': {
      if (!flat) return a;
      const { h, w, c } = flat;
      return reshape(permute(reshape(a, [h, w, c]), [2, 0, 1]), [c * h * w]);
    }
  }
}

/** A PyTorch tensor in Keras's layout (`want`: the Keras weight's shape): the inverse of toTorchLayout. */
function toKerasLayout(kind: Kind, local: string, a: Arr, flat: Flat | undefined, want: readonly number[]): Arr {
  if (local === 'bias' && kind !== 'batchnorm') return a;
  switch (kind) {
    case 'conv': // [out, in, kh, kw] → [kh, kw, in, out]
      return permute(a, [2, 3, 1, 0]);
    case 'depthwise': {
      // [C·M, 1, kh, kw] → [C, M, kh, kw] → [kh, kw, C, M]; M (the depth multiplier) is the Keras layer's
      const [cm, one, kh, kw] = a.shape;
      const [, , c, m] = want;
      if (one !== 1 || c * m !== cm) return a; // the caller's shape check names the mismatch
      return permute(reshape(a, [c, m, kh, kw]), [2, 3, 0, 1]);
    }
    case 'dense': {
      if (!flat) return permute(a, [1, 0]);
      const out = a.shape[0];
      const { h, w, c } = flat;
      return reshape(permute(reshape(a, [out, c, h, w]), [2, 3, 1, 0]), [h * w * c, out]);
    }
    case 'batchnorm': {
      if (!flat) return a;
      const { h, w, c } = flat;
      return reshape(permute(reshape(a, [c, h, w]), [1, 2, 0]), [h * w * c]);
    }
  }
}

/** PyTorch's name for each Keras weight of a kind. */
const NAMES: Record<Kind, [keras: string, torch: string][]> = {
  conv: [
    ['kernel', 'weight'],
    ['bias', 'bias'],
  ],
  depthwise: [
    ['depthwise_kernel', 'weight'],
    ['bias', 'bias'],
  ],
  dense: [
    ['kernel', 'weight'],
    ['bias', 'bias'],
  ],
  batchnorm: [
    ['gamma', 'weight'],
    ['beta', 'bias'],
    ['moving_mean', 'running_mean'],
    ['moving_variance', 'running_var'],
  ],
};

function checkShape(got: readonly number[], want: readonly number[], what: () => string): void {
  if (!sameShape(got, want)) throw new Error(`${what()}: shape ${shapeText(got)}, expected ${shapeText(want)}`);
}

// ---- Keras → PyTorch -------------------------------------------------------------------------------------------

/**
 * The Keras model's weights as a PyTorch state_dict with Python's keys, in state_dict order, for `spec`'s
 * PyTorch module (which model.py loads strictly). The caller owns the tensors.
 *
 * BatchNorm: tfjs normalizes with its layer's epsilon (1e-5 in our models, tfjs's default 1e-3 in older runs),
 * PyTorch with its module's (1e-5). Inference computes (x − mean) / sqrt(var + eps), so
 * running_var = moving_variance + eps_keras − eps_torch gives exactly the same function. num_batches_tracked is written as 0: Keras does not count batches, and PyTorch reads
 * the count only when training with momentum=None (a cumulative average), which fmnist's models do not use.
 */
export function kerasToTorch(spec: ModelSpec, model: tfl.LayersModel): Map<string, torch.Tensor> {
  const module = spec.pytorch(torch);
  try {
    const expected = module.stateDict();
    const pairs = pair(spec, torchLayers(module), kerasLayers(model));
    const sd = new Map<string, torch.Tensor>();
    try {
      torch.withDisposeScope((scope) => {
        for (const [t, k] of pairs) for (const [key, a] of torchTensorsOf(t, k, expected)) sd.set(key, scope.detach(a));
      });
      // nothing left out: every key of the module came from some Keras weight
      const missing = [...expected.keys()].filter((k) => !sd.has(k));
      if (missing.length) throw new Error(`model '${spec.id}': no Keras weight for PyTorch ${missing.join(', ')}`);
    } catch (e) {
      sd.forEach((v) => v.dispose());
      throw e;
    }
    return new Map([...expected.keys()].map((k) => [k, sd.get(k)!])); // in state_dict order
  } finally {
    module.dispose();
  }
}

/** One Keras layer's weights as the PyTorch module's state_dict entries. */
function torchTensorsOf(t: TorchLayer, k: KerasLayer, expected: Map<string, torch.Tensor>): [string, torch.Tensor][] {
  const out: [string, torch.Tensor][] = [];
  for (const [kname, tname] of NAMES[t.kind]) {
    const v = k.weights.get(kname);
    const key = t.keys.get(tname);
    if (!v || !key) continue; // a bias on one side only was refused by pair()
    let a = toTorchLayout(t.kind, tname, kerasArr(v), k.flat);
    if (tname === 'running_var') {
      const shift = (k.eps ?? 1e-3) - (t.eps ?? 1e-5);
      a = { data: a.data.map((x) => x + shift), shape: a.shape };
      if (a.data.some((x) => !(x >= 0)))
        throw new Error(
          `${kerasLabel(k)}: moving_variance + ${k.eps} − ${t.eps} is negative for PyTorch's running_var`,
        );
    }
    checkShape(a.shape, expected.get(key)!.shape, () => `${kerasLabel(k)} ${kname} → PyTorch ${key}`);
    out.push([key, torch.fromTypedArray(a.data, a.shape)]);
  }
  const nbt = t.keys.get('num_batches_tracked');
  if (nbt) out.push([nbt, torch.zeros([], { dtype: 'int64' })]);
  return out;
}

// ---- PyTorch → Keras -------------------------------------------------------------------------------------------

/**
 * A Keras model for `spec` with the weights of a PyTorch state_dict (Python's keys; checked as strictly as
 * load_state_dict(strict=True)).
 *
 * BatchNorm: an epsilon difference cannot be folded this way round (moving_variance = running_var − 1e-3 + 1e-5
 * can go negative), so the model is rebuilt from its JSON with each BatchNormalization's epsilon set to its
 * PyTorch module's: model.json then records it, and stock tfjs computes the same function.
 */
export async function torchToKeras(spec: ModelSpec, stateDict: Map<string, torch.Tensor>): Promise<tfl.LayersModel> {
  await useTorchBackend();
  const module = spec.pytorch(torch);
  let ts: TorchLayer[];
  let own: Map<string, number[]>;
  try {
    ts = torchLayers(module);
    own = new Map([...module.stateDict()].map(([k, v]) => [k, v.shape]));
  } finally {
    module.dispose();
  }
  const missing = [...own.keys()].filter((k) => !stateDict.has(k));
  const unexpected = [...stateDict.keys()].filter((k) => !own.has(k));
  if (missing.length || unexpected.length)
    throw new Error(
      `model '${spec.id}': the state_dict does not fit` +
        (missing.length ? `; missing ${missing.join(', ')}` : '') +
        (unexpected.length ? `; unexpected ${unexpected.join(', ')}` : ''),
    );
  for (const [k, shape] of own) checkShape(stateDict.get(k)!.shape, shape, () => `PyTorch ${k}`);

  // Pair on a model built from the spec, then rebuild it from its JSON with PyTorch's epsilons.
  const built = spec.keras(tfl);
  let model: tfl.LayersModel;
  try {
    const eps = new Map(
      pair(spec, ts, kerasLayers(built)).flatMap(([t, k]) => (t.eps != null ? [[k.layer.name, t.eps]] : [])),
    );
    const json = built.toJSON(null, false) as { config: { layers: { config: { name: string; epsilon?: number } }[] } };
    for (const l of json.config.layers) if (eps.has(l.config.name)) l.config.epsilon = eps.get(l.config.name);
    model = await tfl.models.modelFromJSON({ modelTopology: json } as tfl.ModelAndWeightsConfig);
  } finally {
    built.dispose();
  }
  try {
    const pairs = pair(spec, ts, kerasLayers(model));
    for (const [t, k] of pairs) {
      const values = k.layer.weights.map((v) => {
        const kname = v.originalName.split('/').pop()!;
        const tname = NAMES[t.kind].find(([kn]) => kn === kname)?.[1];
        const key = tname && t.keys.get(tname);
        if (!key) throw new Error(`${kerasLabel(k)}: no PyTorch tensor for its ${kname}`);
        const a = toKerasLayout(t.kind, tname, torchArr(stateDict.get(key)!), k.flat, v.shape as number[]);
        checkShape(a.shape, v.shape as number[], () => `PyTorch ${key} → ${kerasLabel(k)} ${kname}`);
        return a;
      });
      tf.tidy(() => k.layer.setWeights(values.map((a) => tf.tensor(a.data, a.shape, 'float32'))));
    }
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** A Keras run folder's model (model.json + weights.bin), on fmnist's tfjs backend. */
export async function loadKerasModel(dir: string): Promise<tfl.LayersModel> {
  await useTorchBackend();
  return loadLayersFromDir(tfl, dir);
}
