// The model registry: every architecture fmnist knows, in the order reports list them. Adding one is a file
// beside these (a ModelSpec and its .py) and a line here; the CLI, the config, `fmnist models`, the report and
// the server all read this list. See DEVELOPMENT.md, "Adding an architecture".
import { cnn } from './cnn.js';
import { cnnBn } from './cnn-bn.js';
import { dense } from './dense.js';
import { mobilenet } from './mobilenet.js';
import { resnet } from './resnet.js';
import type { ModelSpec } from './spec.js';

export const MODELS: readonly ModelSpec[] = [dense, cnn, cnnBn, resnet, mobilenet];

export const MODEL_IDS: readonly string[] = MODELS.map((m) => m.id);

export function findModel(id: string): ModelSpec | undefined {
  return MODELS.find((m) => m.id === id);
}

/** The spec for `id`, or an error that lists the ones there are. */
export function getModel(id: string): ModelSpec {
  const spec = findModel(id);
  if (!spec) throw new Error(`unknown model '${id}' (known: ${MODEL_IDS.join(', ')})`);
  return spec;
}

export { pythonSource, torchInit, type ModelSpec, type Torch, type Tfl } from './spec.js';
