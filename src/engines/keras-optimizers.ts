// The Keras side's optimizers, with torch.optim's meaning for every OptimizerSpec field: tfjs's own where it
// has the rule (SGD with momentum and Nesterov, Adam).
import * as tf from '@tensorflow/tfjs-core';
import type { OptimizerSpec } from './types.js';

/** A tfjs optimizer for `o`. Every one reads its `learningRate` field on each step (the loop sets it). */
export function makeKerasOptimizer(o: OptimizerSpec): tf.Optimizer {
  if (o.weightDecay) throw new Error(`keras: weight decay is not implemented yet`);
  switch (o.name) {
    case 'sgd':
      // tfjs's momentum: accum = m * accum + g; p -= lr * (nesterov ? g + m * accum : accum), as torch.optim.SGD
      return o.momentum ? tf.train.momentum(o.lr, o.momentum, o.nesterov) : tf.train.sgd(o.lr);
    case 'adam':
      // PyTorch's epsilon (tfjs defaults to 1e-7)
      return tf.train.adam(o.lr, 0.9, 0.999, 1e-8);
    default:
      throw new Error(`keras: optimizer '${o.name}' is not implemented yet`);
  }
}
