// Dispose scopes: deterministic freeing of native tensors, in the style of tf.tidy and
// TorchSharp's DisposeScope. The rules are in docs/memory.md.
import type { Tensor } from './tensor.js';

export class DisposeScope {
  readonly tensors = new Set<Tensor>();
  constructor(readonly outer: DisposeScope | null) {}

  /** Hands `t` to the enclosing scope (or to nobody, at the top level). */
  moveToOuter<T extends Tensor>(t: T): T {
    if (this.tensors.delete(t)) this.outer?.tensors.add(t);
    return t;
  }

  /** Lets `t` go: no scope frees it; the caller (or the finalizer) owns it. */
  detach<T extends Tensor>(t: T): T {
    this.tensors.delete(t);
    return t;
  }

  /** Frees what the scope holds and, if it is the innermost scope, ends it. */
  dispose(): void {
    if (current === this) current = this.outer;
    for (const t of this.tensors) t.dispose();
    this.tensors.clear();
  }
}

let current: DisposeScope | null = null;

export function currentScope(): DisposeScope | null {
  return current;
}

export function newDisposeScope(): DisposeScope {
  current = new DisposeScope(current);
  return current;
}

function endScope(scope: DisposeScope): void {
  if (current !== scope) throw new Error('dispose scopes must end in the order they began');
  scope.dispose();
}

/** Runs `fn` in a scope; `using`-style. Everything created inside is freed unless moved out. */
export function withDisposeScope<R>(fn: (scope: DisposeScope) => R): R {
  const scope = newDisposeScope();
  try {
    return fn(scope);
  } finally {
    endScope(scope);
  }
}

function collect(value: unknown, into: Tensor[], isTensor: (v: unknown) => v is Tensor, depth = 0): void {
  if (depth > 4 || value === null || typeof value !== 'object') return;
  if (isTensor(value)) into.push(value);
  else if (Array.isArray(value)) for (const v of value) collect(v, into, isTensor, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype)
    for (const v of Object.values(value)) collect(v, into, isTensor, depth + 1);
}

let tensorCheck: (v: unknown) => v is Tensor = (_v): _v is Tensor => false;
export function setTensorCheck(f: (v: unknown) => v is Tensor): void {
  tensorCheck = f;
}

/** tf.tidy: runs `fn`, frees every tensor it made except those it returns (in arrays or plain objects too). */
export function tidy<R>(fn: () => R): R {
  return withDisposeScope((scope) => {
    const result = fn();
    const keep: Tensor[] = [];
    collect(result, keep, tensorCheck);
    for (const t of keep) scope.moveToOuter(t);
    return result;
  });
}
