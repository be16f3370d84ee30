// The seed's models, written as Python would define them, so that state_dict keys and
// shapes match `nn.Sequential(...)` in Python and load there with strict=True.
import { nn } from '../torch/index.js';

export type Arch = 'dense' | 'cnn';

/** nn.Sequential(Flatten, Linear(784,128), ReLU, Dropout(0.2), Linear(128,64), ReLU, Dropout(0.2), Linear(64,10)) */
export function denseNet(): nn.Sequential {
  return new nn.Sequential(
    new nn.Flatten(),
    new nn.Linear(784, 128),
    new nn.ReLU(),
    new nn.Dropout(0.2),
    new nn.Linear(128, 64),
    new nn.ReLU(),
    new nn.Dropout(0.2),
    new nn.Linear(64, 10),
  );
}

/** nn.Sequential(Conv2d(1,32,3), ReLU, MaxPool2d(2), Conv2d(32,64,3), ReLU, MaxPool2d(2), Flatten, Linear(1600,128), ReLU, Dropout(0.5), Linear(128,10)) */
export function cnn(): nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d(1, 32, 3),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Conv2d(32, 64, 3),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Flatten(),
    new nn.Linear(1600, 128),
    new nn.ReLU(),
    new nn.Dropout(0.5),
    new nn.Linear(128, 10),
  );
}

export const PYTORCH_MODELS: Record<Arch, () => nn.Sequential> = { dense: denseNet, cnn };

/** The same definitions as Python source, written into run.json so a Python user can rebuild the model. */
export const PYTHON_DEFINITIONS: Record<Arch, string> = {
  dense:
    'nn.Sequential(nn.Flatten(), nn.Linear(784,128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128,64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64,10))',
  cnn: 'nn.Sequential(nn.Conv2d(1,32,3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32,64,3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600,128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128,10))',
};
