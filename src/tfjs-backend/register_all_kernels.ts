// The kernels of the torch backend that run on libtorch. registerTorchBackend() registers every kernel of tfjs's cpu
// backend under 'torch' first and these over them; each of these still hands a call it can't run natively (dtype,
// attribute, tiny size) to the cpu kernel of the same name. See README.md for what is native and what is not, and why.
import type { GradConfig, KernelConfig } from '@tensorflow/tfjs-core';
import { absConfig } from './kernels/Abs.js';
import { addConfig } from './kernels/Add.js';
import { allConfig } from './kernels/All.js';
import { anyConfig } from './kernels/Any.js';
import { argMaxConfig } from './kernels/ArgMax.js';
import { argMinConfig } from './kernels/ArgMin.js';
import { batchMatMulConfig } from './kernels/BatchMatMul.js';
import {
  batchNormTrainingConfig,
  batchNormTrainingGradConfig as batchNormTrainingGradient,
} from './kernels/BatchNormTraining.js';
import { batchNormTrainingGradConfig } from './kernels/BatchNormTrainingGrad.js';
import { castConfig } from './kernels/Cast.js';
import { ceilConfig } from './kernels/Ceil.js';
import { clipByValueConfig } from './kernels/ClipByValue.js';
import { conv2DConfig } from './kernels/Conv2D.js';
import { conv2DBackpropFilterConfig } from './kernels/Conv2DBackpropFilter.js';
import { conv2DBackpropInputConfig } from './kernels/Conv2DBackpropInput.js';
import { cosConfig } from './kernels/Cos.js';
import { depthwiseConv2dNativeConfig } from './kernels/DepthwiseConv2dNative.js';
import { depthwiseConv2dNativeBackpropFilterConfig } from './kernels/DepthwiseConv2dNativeBackpropFilter.js';
import { depthwiseConv2dNativeBackpropInputConfig } from './kernels/DepthwiseConv2dNativeBackpropInput.js';
import { eluConfig } from './kernels/Elu.js';
import { equalConfig } from './kernels/Equal.js';
import { erfConfig } from './kernels/Erf.js';
import { expConfig } from './kernels/Exp.js';
import { expm1Config } from './kernels/Expm1.js';
import { floorConfig } from './kernels/Floor.js';
import { fusedBatchNormConfig } from './kernels/FusedBatchNorm.js';
import { fusedConv2DConfig } from './kernels/FusedConv2D.js';
import { fusedDepthwiseConv2DConfig } from './kernels/FusedDepthwiseConv2D.js';
import { gatherV2Config } from './kernels/GatherV2.js';
import { greaterConfig } from './kernels/Greater.js';
import { greaterEqualConfig } from './kernels/GreaterEqual.js';
import { leakyReluConfig } from './kernels/LeakyRelu.js';
import { lessConfig } from './kernels/Less.js';
import { lessEqualConfig } from './kernels/LessEqual.js';
import { logConfig } from './kernels/Log.js';
import { log1pConfig } from './kernels/Log1p.js';
import { logicalAndConfig } from './kernels/LogicalAnd.js';
import { logicalOrConfig } from './kernels/LogicalOr.js';
import { maxConfig } from './kernels/Max.js';
import { maxPoolConfig } from './kernels/MaxPool.js';
import { maxPoolGradConfig } from './kernels/MaxPoolGrad.js';
import { maximumConfig } from './kernels/Maximum.js';
import { meanConfig } from './kernels/Mean.js';
import { minConfig } from './kernels/Min.js';
import { minimumConfig } from './kernels/Minimum.js';
import { multiplyConfig } from './kernels/Multiply.js';
import { negConfig } from './kernels/Neg.js';
import { notEqualConfig } from './kernels/NotEqual.js';
import { padV2Config } from './kernels/PadV2.js';
import { powConfig } from './kernels/Pow.js';
import { prodConfig } from './kernels/Prod.js';
import { realDivConfig } from './kernels/RealDiv.js';
import { reciprocalConfig } from './kernels/Reciprocal.js';
import { reluConfig } from './kernels/Relu.js';
import { relu6Config } from './kernels/Relu6.js';
import { roundConfig } from './kernels/Round.js';
import { rsqrtConfig } from './kernels/Rsqrt.js';
import { selectConfig } from './kernels/Select.js';
import { sigmoidConfig } from './kernels/Sigmoid.js';
import { sinConfig } from './kernels/Sin.js';
import { sliceConfig } from './kernels/Slice.js';
import { softmaxConfig } from './kernels/Softmax.js';
import { sqrtConfig } from './kernels/Sqrt.js';
import { squareConfig } from './kernels/Square.js';
import { squaredDifferenceConfig } from './kernels/SquaredDifference.js';
import { stepConfig } from './kernels/Step.js';
import { subConfig } from './kernels/Sub.js';
import { sumConfig } from './kernels/Sum.js';
import { tanhConfig } from './kernels/Tanh.js';
import { tileConfig } from './kernels/Tile.js';
import { transposeConfig } from './kernels/Transpose.js';
import { _fusedMatMulConfig } from './kernels/_FusedMatMul.js';

export const nativeKernelConfigs: KernelConfig[] = [
  absConfig,
  addConfig,
  allConfig,
  anyConfig,
  argMaxConfig,
  argMinConfig,
  batchMatMulConfig,
  batchNormTrainingConfig,
  batchNormTrainingGradConfig,
  castConfig,
  ceilConfig,
  clipByValueConfig,
  conv2DConfig,
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  cosConfig,
  depthwiseConv2dNativeConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  eluConfig,
  equalConfig,
  erfConfig,
  expConfig,
  expm1Config,
  floorConfig,
  fusedBatchNormConfig,
  fusedConv2DConfig,
  fusedDepthwiseConv2DConfig,
  gatherV2Config,
  greaterConfig,
  greaterEqualConfig,
  leakyReluConfig,
  lessConfig,
  lessEqualConfig,
  logConfig,
  log1pConfig,
  logicalAndConfig,
  logicalOrConfig,
  maxConfig,
  maxPoolConfig,
  maxPoolGradConfig,
  maximumConfig,
  meanConfig,
  minConfig,
  minimumConfig,
  multiplyConfig,
  negConfig,
  notEqualConfig,
  padV2Config,
  powConfig,
  prodConfig,
  realDivConfig,
  reciprocalConfig,
  reluConfig,
  relu6Config,
  roundConfig,
  rsqrtConfig,
  selectConfig,
  sigmoidConfig,
  sinConfig,
  sliceConfig,
  softmaxConfig,
  sqrtConfig,
  squareConfig,
  squaredDifferenceConfig,
  stepConfig,
  subConfig,
  sumConfig,
  tanhConfig,
  tileConfig,
  transposeConfig,
  _fusedMatMulConfig,
];

/** Gradients of the torch backend's own kernels (those tfjs-core has no gradient for): registered with them. */
export const nativeGradientConfigs: GradConfig[] = [batchNormTrainingGradient];
