import { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';

const FORMATS = ['onnx'] as const;

const HELP = `
Formats:
  onnx    One ONNX file (IR 8, default opset 17; 13 to 17 with --opset) for onnxruntime in Node, the browser,
          Python or on phones. Input 'images' float32 [N, 1, 28, 28] (NCHW, pixels in [0, 1]), output 'probs'
          float32 [N, 10] (softmax probabilities), N dynamic. Inference form: dropout removed, each BatchNorm that
          directly follows a convolution or linear layer folded into its weights.
          'fmnist serve --engine onnx' serves it (exporting first if the folder has no model.onnx).

TFLite is not offered: no published npm package carries the TFLite flatbuffer schema to write a .tflite file
(npm has no 'tflite-schema' or '@tensorflow/tflite-schema'; '@tensorflow/tfjs-tflite' only runs existing .tflite
files), and there is no PyTorch or ONNX to TFLite converter in npm or Debian.

Examples:
  fmnist export runs/pytorch-resnet --format onnx
  fmnist export runs/pytorch-cnn --format onnx --opset 13 --out cnn.onnx`;

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write a trained run as a model file for other runtimes (ONNX)')
    .argument('<dir>', 'run folder written by `fmnist train` (either framework) or `fmnist convert`')
    .option('--format <format>', `output format: ${FORMATS.join(', ')}`, 'onnx')
    .option('--out <file>', 'where to write (default: DIR/model.onnx)')
    .option('--opset <n>', 'ONNX opset, 13 to 17 (default 17)')
    .addHelpText('after', HELP)
    .action(async (dir: string, o: { format: string; out?: string; opset?: string }) => {
      if (!(FORMATS as readonly string[]).includes(o.format))
        throw new Error(
          `--format ${o.format}: unknown format (known: ${FORMATS.join(', ')}; TFLite is not offered, see --help)`,
        );
      let opset: number | undefined;
      if (o.opset !== undefined) {
        opset = Number(o.opset);
        if (!/^\d+$/.test(o.opset)) throw new Error(`--opset ${o.opset}: expected a whole number from 13 to 17`);
      }
      if (o.out !== undefined && existsSync(o.out) && statSync(o.out).isDirectory())
        throw new Error(`--out ${o.out}: is a folder; give the file to write, e.g. ${o.out}/model.onnx`);
      const { exportOnnx } = await import('../../runs/onnx-export.js');
      const r = await exportOnnx(dir, { out: o.out, opset });
      console.log(
        `wrote ${r.file} (${r.bytes.toLocaleString('en-US')} bytes, ONNX opset ${r.opset}): ` +
          `input 'images' float32 [N, 1, 28, 28], output 'probs' float32 [N, 10]`,
      );
    });
}
