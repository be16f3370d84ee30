// What a layer needs to describe itself as ONNX: a graph it adds nodes and constants to. No protobuf here: the
// exporter (src/runs/onnx-export.ts) implements this interface and encodes the result.

/**
 * An attribute value: a number is an INT, an array of numbers INTS, `{ float }` a FLOAT, a string a STRING. Floats
 * are spelt out because `1` and `1.0` are the same number in JS and ONNX types attributes strictly.
 */
export type OnnxAttr = number | readonly number[] | { float: number } | string;

export interface OnnxGraph {
  /** The default-domain opset the graph is built for, so a layer can pick an op's form for it. */
  readonly opset: number;
  /** The module path being emitted ("3.1.body.0"), the same as its state_dict prefix; '' at the top. */
  readonly path: string;
  /** Adds one node of the default domain; returns the name of its (single) output. */
  node(op: string, inputs: readonly string[], attrs?: Readonly<Record<string, OnnxAttr>>): string;
  /** Adds a float32 constant named `path.name` (made unique); returns the name to use as an input. */
  initializer(name: string, data: Float32Array, dims: readonly number[]): string;
  /** Runs `fn` with `name` appended to the path (a child module's name, as in its state_dict keys). */
  scoped<T>(name: string, fn: () => T): T;
}

/**
 * A BatchNorm in inference mode as the per-channel affine map it is, y = x · scale + shift, in float64 so that a
 * layer folding it into its own weights rounds once, to float32, at the end.
 */
export interface ChannelAffine {
  scale: Float64Array;
  shift: Float64Array;
}
