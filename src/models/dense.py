# fmnist model "dense": the seed's fully connected net, 109,386 parameters.
# In Python:  exec(open("model.py").read()); m = build(); m.load_state_dict(torch.load("model.pt"), strict=True)
import torch.nn as nn


def build(num_classes=10, dropout=0.2):
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 128),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(128, 64),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(64, num_classes),
    )
