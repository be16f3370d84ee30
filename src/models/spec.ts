// What one architecture is: an id, words for people, a builder per framework and the same model in Python.
// Builders get their framework's API from the engine (type-only imports here), so reading the registry loads
// neither libtorch nor tfjs: the CLI's --help and the config's validation stay cheap.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type * as TorchApi from '../torch/index.js';
import type * as TflApi from '@tensorflow/tfjs-layers';

export type Torch = typeof TorchApi;
export type Tfl = typeof TflApi;

export interface ModelSpec {
  /** The `--model` value and the second half of a run folder's name, e.g. `cnn`. */
  readonly id: string;
  /** How reports and the server name it after the framework: "PyTorch CNN". */
  readonly label: string;
  /** One line for `fmnist models`. */
  readonly description: string;
  /** Default `--epochs` (early stopping may end sooner). */
  readonly defaultEpochs: number;
  /**
   * Default `--patience` (epochs without a better validation loss before stopping); 5 when absent, 0 = train every
   * epoch and keep the last. Set to 0 where validation loss turns up while validation accuracy still rises, so that
   * stopping on loss would cut the run short (`cnn`: README, Measured: the seed models).
   */
  readonly defaultPatience?: number;
  /**
   * Default `--val-split`; 0.1 when absent. 0 is a final fit on all 60,000 images with the recipe and epochs that were
   * chosen on the 0.1 split: nothing is selected by validation then, the last epoch is the model.
   */
  readonly defaultValSplit?: number;
  /** Default `--recipe` (src/runs/recipes.ts); 'seed' when absent. */
  readonly recipe?: 'seed' | 'modern';
  /**
   * The PyTorch side's layout for the 4-D weights (`model.to(memory_format=...)`); NCHW when absent. channels_last
   * is chosen per model by `npm run bench`'s layout rows: it speeds up the wide 3x3 convolutions of `resnet` and slows
   * the small seed CNN (its flatten then reorders) and the depthwise ones.
   */
  readonly memoryFormat?: TorchApi.MemoryFormat;
  /**
   * The PyTorch side's training precision under `--precision auto`: 'bfloat16' runs the training forward under
   * torch.autocast on CPUs with native bf16 (src/util/cpu.ts), float32 elsewhere and when absent. Set where the
   * model's convolutions dominate its step (`resnet`: 1.6x faster a step on 2 Zen 5 cores).
   */
  readonly autocast?: 'bfloat16';
  /** The PyTorch model, with Python's state_dict keys, so that model.py loads our model.pt strictly. */
  pytorch(torch: Torch): TorchApi.nn.Module;
  /** The same layers in tfjs Layers, uncompiled, on NHWC [n, 28, 28, 1] input, ending in a softmax. */
  keras(tfl: Tfl): TflApi.LayersModel;
  /** The Python source (`build(**kwargs) -> nn.Module`), a real .py file beside the spec's own file. */
  readonly python: URL;
  /** @deprecated The one-line Python expression older run.json files carry as `definition`; use model.py. */
  readonly definition?: string;
}

/** The text of a spec's model.py. */
export function pythonSource(spec: ModelSpec): string {
  return readFileSync(fileURLToPath(spec.python), 'utf8');
}

/**
 * PyTorch's default initialization for a Keras layer with `fanIn` inputs: weights and biases both U(±1/√fanIn)
 * (kaiming_uniform with a=√5). Both frameworks then start from the same distribution, so a comparison differs
 * only in the engine.
 */
export function torchInit(tfl: Tfl, fanIn: number) {
  const bound = 1 / Math.sqrt(fanIn);
  return {
    kernelInitializer: tfl.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanIn', distribution: 'uniform' }),
    biasInitializer: tfl.initializers.randomUniform({ minval: -bound, maxval: bound }),
  };
}
