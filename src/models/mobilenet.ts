// The deployment model: a small MobileNet (v1-style) of depthwise-separable blocks, each a 3x3 depthwise conv-BN-ReLU
// and a 1x1 pointwise conv-BN-ReLU; two of them stride 2 (28 → 14 → 7). The fewest parameters and FLOPs in the
// registry, for phones and browsers.
import type { ModelSpec } from './spec.js';
import { kerasConvBn, kerasHead, torchConvBn } from './blocks.js';

/** [output channels, stride] of each separable block, after a 32-channel stem (mobilenet.py's defaults). */
export const MOBILENET_STEM = 32;
export const MOBILENET_BLOCKS: readonly (readonly [number, number])[] = [
  [64, 2],
  [64, 1],
  [128, 2],
  [128, 1],
  [256, 1],
];

export const mobilenet: ModelSpec = {
  id: 'mobilenet',
  label: 'MobileNet',
  description:
    'MobileNet-style: stem 32, five depthwise-separable blocks (64/64/128/128/256, two stride 2), GAP, linear',
  defaultEpochs: 20,
  recipe: 'modern',
  python: new URL('./mobilenet.py', import.meta.url),

  pytorch: (torch) => {
    const { nn } = torch;
    const layers = [torchConvBn(torch, 1, MOBILENET_STEM)];
    let cin = MOBILENET_STEM;
    for (const [cout, stride] of MOBILENET_BLOCKS) {
      layers.push(
        new nn.Sequential(
          torchConvBn(torch, cin, cin, { stride, groups: cin }),
          torchConvBn(torch, cin, cout, { kernel: 1 }),
        ),
      );
      cin = cout;
    }
    return new nn.Sequential(...layers, new nn.AdaptiveAvgPool2d(1), new nn.Flatten(), new nn.Linear(cin, 10));
  },

  keras: (tfl) => {
    const input = tfl.input({ shape: [28, 28, 1] });
    let x = kerasConvBn(tfl, input, MOBILENET_STEM);
    for (const [cout, stride] of MOBILENET_BLOCKS) {
      x = kerasConvBn(tfl, x, x.shape[3] as number, { stride, groups: x.shape[3] as number });
      x = kerasConvBn(tfl, x, cout, { kernel: 1 });
    }
    return kerasHead(tfl, input, x, 'mobilenet');
  },
};
