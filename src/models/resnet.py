# fmnist model "resnet": an airbench-style residual net for [n, 1, 28, 28] input. A conv-BN-ReLU stem, three stages
# (conv, 2x2 max-pool, BN, ReLU, then one residual block x + conv-BN-ReLU(x)), global average pool, linear head.
# In Python:  exec(open("model.py").read()); m = build(); m.load_state_dict(torch.load("model.pt"), strict=True)
import torch.nn as nn


def conv_bn(cin, cout, kernel=3, stride=1, groups=1, pool=False, relu=True):
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    layers.append(nn.BatchNorm2d(cout))
    if relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Residual(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)


def build(num_classes=10, stem=24, widths=(32, 128, 128)):
    layers = [conv_bn(1, stem)]
    cin = stem
    for w in widths:
        layers.append(nn.Sequential(conv_bn(cin, w, pool=True), Residual(conv_bn(w, w))))
        cin = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes))
