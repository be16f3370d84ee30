// `fmnist export --format onnx`: a run folder's model as one ONNX file, for onnxruntime (Node, web, Python, mobile)
// and every other ONNX consumer. Each torch layer emits its own nodes (toOnnx in src/torch/nn); this file gives
// them a graph to add to, adds the input, the closing Softmax and the output, and encodes the protobuf with
// onnx-proto. The graph:
//   images  float32 [N, 1, 28, 28]  NCHW, pixels in [0, 1] (N is dynamic)
//   probs   float32 [N, 10]         class probabilities, as fmnist's predictors return them
// Inference form: Dropout is gone and a BatchNorm right after a Conv or Linear is folded into its weights.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import proto from 'onnx-proto';
import type * as TorchApi from '../torch/index.js';
import { CLASS_NAMES } from '../data/index.js';
import { writeFileAtomic } from '../util/fsutil.js';
import { isEnsemble, readRun, refreshChecksums } from './files.js';

const { onnx } = proto;

export const ONNX_FILE = 'model.onnx';
/** Opsets this exporter's ops were checked at: each op's attributes mean the same from 13 (Softmax's axis) to 17. */
export const MIN_OPSET = 13;
export const MAX_OPSET = 17;
export const DEFAULT_OPSET = 17;
export const INPUT_NAME = 'images';
export const OUTPUT_NAME = 'probs';

export interface ExportOptions {
  /** Where to write (default DIR/model.onnx). */
  out?: string;
  /** The default-domain opset, 13 to 17 (default 17). */
  opset?: number;
}

export interface ExportResult {
  file: string;
  bytes: number;
  opset: number;
}

type Attr = TorchApi.nn.OnnxAttr;
const AttrType = onnx.AttributeProto.AttributeType;

function attribute(name: string, v: Attr): proto.onnx.IAttributeProto {
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`ONNX export: attribute ${name}=${v} is not an integer (use { float })`);
    return { name, type: AttrType.INT, i: v };
  }
  if (Array.isArray(v)) {
    if (!v.every(Number.isInteger)) throw new Error(`ONNX export: attribute ${name}=[${v}] has a non-integer`);
    return { name, type: AttrType.INTS, ints: [...v] };
  }
  return { name, type: AttrType.FLOAT, f: (v as { float: number }).float };
}

/** float32 values as ONNX's raw_data: little-endian whatever the host is. */
function rawFloats(data: Float32Array): Uint8Array {
  const bytes = new Uint8Array(data.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return bytes;
}

/** The OnnxGraph the layers write to, collecting protobuf messages. */
class GraphBuilder implements TorchApi.nn.OnnxGraph {
  readonly nodes: proto.onnx.INodeProto[] = [];
  readonly initializers: proto.onnx.ITensorProto[] = [];
  private readonly names = new Set<string>([INPUT_NAME, OUTPUT_NAME]);
  private readonly scope: string[] = [];

  constructor(readonly opset: number) {}

  get path(): string {
    return this.scope.join('.');
  }

  /** `base`, or `base_2`, `base_3`… when taken: value names are one namespace in a graph. */
  private unique(base: string): string {
    let name = base;
    for (let i = 2; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  node(op: string, inputs: readonly string[], attrs: Readonly<Record<string, Attr>> = {}): string {
    const name = this.unique(this.path ? `${this.path}/${op}` : op);
    this.nodes.push({
      name,
      opType: op,
      domain: '',
      input: [...inputs],
      output: [name],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return name;
  }

  initializer(name: string, data: Float32Array, dims: readonly number[]): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new Error(`ONNX export: ${name} has ${data.length} values for dims [${dims}]`);
    const unique = this.unique(this.path ? `${this.path}.${name}` : name);
    this.initializers.push({
      name: unique,
      dims: [...dims],
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: rawFloats(data),
    });
    return unique;
  }

  scoped<T>(name: string, fn: () => T): T {
    this.scope.push(name);
    try {
      return fn();
    } finally {
      this.scope.pop();
    }
  }
}

function checkOpset(opset: number): number {
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET)
    throw new Error(
      `opset ${opset}: fmnist exports ONNX opsets ${MIN_OPSET} to ${MAX_OPSET} (default ${DEFAULT_OPSET})`,
    );
  return opset;
}

let fmnistVersion: string | undefined;
/** package.json is two folders above this file in src/ (tsx) and three in dist/src/ (built). */
function producerVersion(): string {
  if (fmnistVersion === undefined) {
    fmnistVersion = '0.0.0';
    for (const up of ['../../', '../../../']) {
      const u = new URL(`${up}package.json`, import.meta.url);
      if (existsSync(u)) {
        fmnistVersion = (JSON.parse(readFileSync(u, 'utf8')) as { version: string }).version;
        break;
      }
    }
  }
  return fmnistVersion;
}

const tensorType = (dims: (number | string)[]): proto.onnx.ITypeProto => ({
  tensorType: {
    elemType: onnx.TensorProto.DataType.FLOAT,
    shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
  },
});

export interface OnnxModelInfo {
  /** The registry id ("resnet"); the graph is named after it. */
  model: string;
  /** Goes into the doc string and the metadata: which framework trained it, from which folder. */
  framework: string;
  source?: string;
  opset?: number;
}

/**
 * An eval-mode torch module (images [N, 1, 28, 28] → logits [N, 10]) as an encoded ONNX ModelProto, with a Softmax
 * on the logits. Throws, naming the class, for a layer that has no ONNX form.
 */
export function moduleToOnnx(module: TorchApi.nn.Module, meta: OnnxModelInfo): Uint8Array {
  const opset = checkOpset(meta.opset ?? DEFAULT_OPSET);
  const g = new GraphBuilder(opset);
  const logits = module.onnx(g, INPUT_NAME);
  // axis 1 of the 2-D logits: the same under opset 12's "coerce to 2-D" Softmax and opset 13's per-axis one.
  g.nodes.push({
    name: 'Softmax',
    opType: 'Softmax',
    domain: '',
    input: [logits],
    output: [OUTPUT_NAME],
    attribute: [attribute('axis', 1)],
  });
  const classes = CLASS_NAMES.length;
  const doc =
    `fmnist ${meta.framework} ${meta.model}: Fashion-MNIST class probabilities. Input '${INPUT_NAME}' float32 ` +
    `[N, 1, 28, 28] (NCHW, pixels in [0, 1], white garment on black); output '${OUTPUT_NAME}' float32 [N, ${classes}] ` +
    `(softmax over ${CLASS_NAMES.join(', ')}).` +
    (meta.source ? ` Exported from ${meta.source}.` : '');
  const model: proto.onnx.IModelProto = {
    irVersion: onnx.Version.IR_VERSION,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'fmnist',
    producerVersion: producerVersion(),
    docString: doc,
    metadataProps: [
      { key: 'framework', value: meta.framework },
      { key: 'model', value: meta.model },
      { key: 'classes', value: JSON.stringify(CLASS_NAMES) },
    ],
    graph: {
      name: `fmnist_${meta.model.replace(/[^A-Za-z0-9_]/g, '_')}`,
      docString: doc,
      node: g.nodes,
      initializer: g.initializers,
      input: [{ name: INPUT_NAME, type: tensorType(['N', 1, 28, 28]) }],
      output: [{ name: OUTPUT_NAME, type: tensorType(['N', classes]) }],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Writes DIR/model.onnx (or `opts.out`) atomically from a run folder's model. */
export async function exportOnnx(dir: string, opts: ExportOptions = {}): Promise<ExportResult> {
  const opset = checkOpset(opts.opset ?? DEFAULT_OPSET);
  // Either framework: a Keras run's weights are mapped onto the same architecture's torch module.
  const { loadAsTorch } = await import('./convert.js');
  const { info, spec, module } = await loadAsTorch(dir);
  let bytes: Uint8Array;
  try {
    module.eval();
    bytes = moduleToOnnx(module, { model: spec.id, framework: info.framework, source: basename(resolve(dir)), opset });
  } finally {
    module.dispose();
  }
  const file = opts.out ?? join(dir, ONNX_FILE);
  writeFileAtomic(file, bytes);
  // a file written into the run folder joins its SHA256SUMS (one written elsewhere is the user's)
  const rel = relative(resolve(dir), resolve(file));
  if (rel && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))
    refreshChecksums(dir, rel.split(sep).join('/'));
  return { file, bytes: bytes.length, opset };
}

/**
 * DIR/model.onnx, exported first when it is absent or older than the run's weights (a re-trained or converted run
 * in the same folder).
 */
export async function ensureOnnx(dir: string): Promise<string> {
  const file = join(dir, ONNX_FILE);
  if (existsSync(file)) {
    const { info } = readRun(dir);
    const weights = isEnsemble(info) ? null : join(dir, info.modelFile);
    if (!weights || !existsSync(weights) || statSync(weights).mtimeMs <= statSync(file).mtimeMs) return file;
  }
  return (await exportOnnx(dir)).file;
}
