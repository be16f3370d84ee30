// Types shared by the dispose scopes (scope.ts) and the Tensor class (tensor.ts). They live here so that scope.ts needs
// nothing from tensor.ts: tensor.ts imports scope.ts, never the other way round.

/** What a dispose scope holds and frees. `Tensor` is one. */
export interface ScopedTensor {
  dispose(): void;
}
