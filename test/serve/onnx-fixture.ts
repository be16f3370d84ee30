// A run folder's model.onnx for the tests, made by Python's own exporter until fmnist has one.
// MERGE: replace the body of exportOnnxFixture with `fmnist export DIR` (src/runs/onnx-export.ts's ensureOnnx).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

// The graph the page and the exporter agree on: `images` float32 [N, 1, 28, 28] in [0, 1] → `probs` [N, 10].
const EXPORT = `
import os, sys, torch
d = sys.argv[1]
ns = {}
exec(open(os.path.join(d, "model.py")).read(), ns)
net = ns["build"]()
net.load_state_dict(torch.load(os.path.join(d, "model.pt")), strict=True)
net.eval()

class WithSoftmax(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, images):
        return torch.softmax(self.m(images), dim=1)

out = os.path.join(d, "model.onnx")
torch.onnx.export(WithSoftmax(net), torch.zeros(1, 1, 28, 28), out + ".tmp", input_names=["images"],
                  output_names=["probs"], dynamic_axes={"images": {0: "n"}, "probs": {0: "n"}}, opset_version=17)
os.replace(out + ".tmp", out)
`;

/** Writes DIR/model.onnx for a PyTorch run folder (its model.py and model.pt) with torch.onnx.export; returns it. */
export function exportOnnxFixture(dir: string): string {
  execFileSync('/usr/bin/python3', ['-c', EXPORT, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  return join(dir, 'model.onnx');
}
