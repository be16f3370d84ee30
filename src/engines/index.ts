// The frameworks fmnist trains with. Each engine (./pytorch.ts, ./keras.ts) is an adapter from the one training
// loop and the run loader to a real framework; it is imported only when used, so naming a framework loads nothing.
import type { Engine } from './types.js';

export const FRAMEWORKS = ['pytorch', 'keras'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

/** "PyTorch", "Keras": how people name them. */
export const FRAMEWORK_NAMES: Record<Framework, string> = { pytorch: 'PyTorch', keras: 'Keras' };

export async function loadEngine(framework: string): Promise<Engine> {
  if (framework === 'pytorch') return (await import('./pytorch.js')).pytorchEngine;
  if (framework === 'keras') return (await import('./keras.js')).kerasEngine;
  throw new Error(`unknown framework '${framework}' (known: ${FRAMEWORKS.join(', ')})`);
}

export type { Engine, EngineModel, EngineOptions, OptimizerSpec, StepResult } from './types.js';
export { emaDecayAt, PRECISIONS, type Precision } from './types.js';
