// TensorFlow.js on libtorch: the tfjs backend 'torch'. Use it with @tensorflow/tfjs-core / tfjs-layers:
//   await useTorchBackend();  // then build, fit and predict Layers models as usual
import { ready, setBackend } from '@tensorflow/tfjs-core';
import { registerTorchBackend } from './backend.js';
import { TORCH } from './kernel_utils.js';

export { MathBackendTorch, registerTorchBackend } from './backend.js';
export { kernelStats, recordFallbackShapes, resetKernelStats } from './kernel_utils.js';
export type { KernelStats } from './kernel_utils.js';
export { nativeKernelConfigs } from './register_all_kernels.js';
export { BatchNormalization, torchLayersApi } from './batch_norm_layer.js';
export const TORCH_BACKEND = TORCH;

/** Registers the backend if needed, makes it tfjs's current backend and waits until it is ready. */
export async function useTorchBackend(): Promise<void> {
  registerTorchBackend();
  if (!(await setBackend(TORCH))) throw new Error("tfjs: could not initialize the 'torch' backend");
  await ready();
}
