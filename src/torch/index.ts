// `torch`: the PyTorch-shaped API. import { torch } from 'fmnist' or import * as torch from './torch/index.js'.
export {
  Tensor,
  isTensor,
  liveTensors,
  channelsLast,
  contiguousFormat,
  type Dtype,
  type MemoryFormat,
} from './tensor.js';
export * from './ops.js';
export { tidy, withDisposeScope, newDisposeScope, currentScope, DisposeScope } from './scope.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export { readStateDict, PtFormatError, type PtStateDict, type PtTensor } from './serialization/pt.js';
// The value model of torch.save / torch.loadObject: Python's dict (and OrderedDict), tuple and float.
export { PyDict, PyTuple, PyFloat } from './serialization/pickle.js';
