// The tfjs backend 'torch': tfjs's cpu backend (same data layout: one typed array per tensor) whose hot kernels run on
// libtorch through the addon. Everything the native kernels don't cover runs on the cpu backend's own kernels, which
// are registered under 'torch' as they are.
import '@tensorflow/tfjs-backend-cpu'; // registers the 'cpu' backend and its kernels, which 'torch' reuses
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import {
  findBackendFactory,
  getKernelsForBackend,
  registerBackend,
  registerGradient,
  registerKernel,
} from '@tensorflow/tfjs-core';
import type { backend_util, DataId, DataType } from '@tensorflow/tfjs-core';
import { native } from '../native/binding.js';
import { BufferPool } from './buffer_pool.js';
import { TORCH } from './kernel_utils.js';
import { nativeGradientConfigs, nativeKernelConfigs } from './register_all_kernels.js';
import { registerBatchNormLayer } from './batch_norm_layer.js';

export class MathBackendTorch extends MathBackendCPU {
  /** Where the native kernels' outputs come from, and their memory goes back to (see buffer_pool.ts). */
  readonly pool = new BufferPool();

  constructor() {
    super();
    // The cpu backend greets its first write in Node with advice to install tfjs-node; it doesn't apply here.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  override write(values: backend_util.BackendValues, shape: number[], dtype: DataType): DataId {
    this.pool.attach(values);
    return super.write(values, shape, dtype);
  }

  override move(
    dataId: DataId,
    values: backend_util.BackendValues,
    shape: number[],
    dtype: DataType,
    refCount: number,
  ): void {
    this.pool.attach(values);
    super.move(dataId, values, shape, dtype, refCount);
  }

  override readSync(dataId: DataId): backend_util.BackendValues {
    const values = super.readSync(dataId);
    this.pool.escape(values);
    return values;
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.get(dataId)?.values;
    const released = super.disposeData(dataId, force);
    if (released && values !== undefined) this.pool.release(values);
    return released;
  }

  override dispose(): void {
    super.dispose();
    this.pool.clear();
  }
}

/**
 * Registers the backend 'torch' (priority 2, above 'cpu') and its kernels. Idempotent: returns false when it was
 * already registered. Throws when the addon predates the tfjs kernels (rebuild it: `npm run build:native`).
 */
export function registerTorchBackend(): boolean {
  if (findBackendFactory(TORCH) != null) return false;
  if (typeof native.tfjs?.Conv2D !== 'function') {
    throw new Error('fmnist: the native addon has no tfjs kernels; rebuild it with `npm run build:native`');
  }
  registerBackend(TORCH, () => new MathBackendTorch(), 2);
  const nativeNames = new Set(nativeKernelConfigs.map((k) => k.kernelName));
  for (const config of getKernelsForBackend('cpu')) {
    if (!nativeNames.has(config.kernelName)) registerKernel({ ...config, backendName: TORCH });
  }
  for (const config of nativeKernelConfigs) registerKernel(config);
  for (const config of nativeGradientConfigs) registerGradient(config);
  registerBatchNormLayer();
  return true;
}
