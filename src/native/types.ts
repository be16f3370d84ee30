// The addon's basic torch types, shared by the generated op declarations (ops.generated.ts) and addon.d.ts.
// Type-only: importing this file loads nothing.

export interface NativeTensor {
  dispose(): void;
  readonly isDisposed: boolean;
}
export type NativeDtype = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'bool' | 'bfloat16';
export type Reduction = 'mean' | 'sum' | 'none';
export type AnyTypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
