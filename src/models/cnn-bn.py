# fmnist model "cnn-bn": the seed's CNN with BatchNorm after each convolution and the hidden dense layer,
# on [n, 1, 28, 28] input. Layers followed by BatchNorm have no bias.
# In Python:  exec(open("model.py").read()); m = build(); m.load_state_dict(torch.load("model.pt"), strict=True)
import torch.nn as nn


def build(num_classes=10, dropout=0.5):
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, bias=False),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(1600, 128, bias=False),
        nn.BatchNorm1d(128),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(128, num_classes),
    )
