# fmnist model "cnn": the seed's CNN, 225,034 parameters, on [n, 1, 28, 28] input.
# In Python:  exec(open("model.py").read()); m = build(); m.load_state_dict(torch.load("model.pt"), strict=True)
import torch.nn as nn


def build(num_classes=10, dropout=0.5):
    return nn.Sequential(
        nn.Conv2d(1, 32, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(1600, 128),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(128, num_classes),
    )
