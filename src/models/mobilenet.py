# fmnist model "mobilenet": a small MobileNet (v1-style) for [n, 1, 28, 28] input. A conv-BN-ReLU stem, then
# depthwise-separable blocks (3x3 depthwise conv-BN-ReLU, 1x1 pointwise conv-BN-ReLU), global average pool, linear.
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


def build(num_classes=10, stem=32, blocks=((64, 2), (64, 1), (128, 2), (128, 1), (256, 1))):
    layers = [conv_bn(1, stem)]
    cin = stem
    for cout, stride in blocks:
        layers.append(nn.Sequential(conv_bn(cin, cin, stride=stride, groups=cin), conv_bn(cin, cout, kernel=1)))
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes))
