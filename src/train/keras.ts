// Filled in by the Keras implementation.
import type { TrainConfig } from './config.js';
import type { PreparedData } from './prepare.js';
import type { TrainResult } from './pytorch.js';

export async function trainKeras(
  _cfg: TrainConfig,
  _data: PreparedData,
  _log: (s: string) => void,
): Promise<TrainResult> {
  throw new Error('the Keras implementation is not available yet');
}
