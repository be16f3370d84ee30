// Reloading a run folder's model outside fmnist, as its users would: the PyTorch side in Python (model.py +
// model.pt, strict=True, eval mode), the Keras side in unmodified @tensorflow/tfjs on its cpu backend.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { runPython } from '../torch/helpers.js';

/** The PyTorch side of a run in Python: keys and shapes of the state_dict, and eval()-mode probabilities. */
export const PY_RELOAD = String.raw`
import json, sys, numpy as np, torch
run, xfile = sys.argv[1], sys.argv[2]
exec(open(run + '/model.py').read())
m = build()
sd = torch.load(run + '/model.pt')
m.load_state_dict(sd, strict=True)
m.eval()
x = torch.from_numpy(np.fromfile(xfile, dtype=np.float32).reshape(-1, 1, 28, 28))
with torch.no_grad():
    p = torch.softmax(m(x), 1)
print(json.dumps({'keys': [[k, list(v.shape)] for k, v in m.state_dict().items()], 'probs': p.flatten().tolist()}))
`;

/** Unmodified @tensorflow/tfjs on its cpu backend, in a process of its own, as a browser page would load it. */
export const STOCK_TFJS = `
  const tf = require('@tensorflow/tfjs');
  const fs = require('fs');
  const [run, xfile] = process.argv.slice(1);
  (async () => {
    await tf.setBackend('cpu');
    const json = JSON.parse(fs.readFileSync(run + '/model.json', 'utf8'));
    const weights = fs.readFileSync(run + '/' + json.weightsManifest[0].paths[0]);
    const m = await tf.loadLayersModel(tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0].weights,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    }));
    const b = fs.readFileSync(xfile);
    const x = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    const y = m.predict(tf.tensor4d(x, [x.length / 784, 28, 28, 1]));
    console.log(JSON.stringify({ backend: tf.getBackend(), probs: Array.from(y.dataSync()) }));
  })().catch((e) => { console.error(e); process.exit(1); });`;

/** A run's model.py + model.pt in Python on the float32 images in `xfile`. */
export function pythonReload(run: string, xfile: string): { keys: [string, number[]][]; probs: number[] } {
  return JSON.parse(runPython(PY_RELOAD, [run, xfile]));
}

/** A run's model.json + weights.bin in stock tfjs (cpu) on the float32 images in `xfile`. */
export async function stockTfjsReload(run: string, xfile: string): Promise<{ backend: string; probs: number[] }> {
  const res = await promisify(execFile)(process.execPath, ['-e', STOCK_TFJS, run, xfile], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  return JSON.parse(res.stdout.trim().split('\n').pop()!);
}
