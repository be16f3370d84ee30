// Dispose scopes: deterministic freeing of native tensors, in the style of tf.tidy and
// TorchSharp's DisposeScope. The rules are in docs/memory.md.
import type { ScopedTensor } from './types.js';

export class DisposeScope {
  readonly tensors = new Set<ScopedTensor>();
  constructor(readonly outer: DisposeScope | null) {}

  /** Hands `t` to the enclosing scope (or to nobody, at the top level). */
  moveToOuter<T extends ScopedTensor>(t: T): T {
    if (this.tensors.delete(t)) this.outer?.tensors.add(t);
    return t;
  }

  /** Lets `t` go: no scope frees it; the caller (or the finalizer) owns it. */
  detach<T extends ScopedTensor>(t: T): T {
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

// Gathers the tensors of this scope that `value` holds (itself, or in arrays and plain objects). Membership in the
// scope is the test, so no Tensor class is needed here; tensors of outer scopes stay where they are either way.
function collect(value: unknown, scope: DisposeScope, into: ScopedTensor[], depth = 0): void {
  if (depth > 4 || value === null || typeof value !== 'object') return;
  if (scope.tensors.has(value as ScopedTensor)) into.push(value as ScopedTensor);
  else if (Array.isArray(value)) for (const v of value) collect(v, scope, into, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype)
    for (const v of Object.values(value)) collect(v, scope, into, depth + 1);
}

/** tf.tidy: runs `fn`, frees every tensor it made except those it returns (in arrays or plain objects too). */
export function tidy<R>(fn: () => R): R {
  return withDisposeScope((scope) => {
    const result = fn();
    const keep: ScopedTensor[] = [];
    collect(result, scope, keep);
    for (const t of keep) scope.moveToOuter(t);
    return result;
  });
}
